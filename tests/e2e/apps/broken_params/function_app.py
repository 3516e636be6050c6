import azure.functions as func

app = func.FunctionApp()


@app.route(route="x")
def mismatch(req: func.HttpRequest, extra: str) -> func.HttpResponse:
    return func.HttpResponse("x")
