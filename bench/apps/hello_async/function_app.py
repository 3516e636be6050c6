import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello")
async def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("Hello, world!")
