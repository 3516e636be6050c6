import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="a//b")
def broken(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never")
