import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="administrators")
def reserved(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never")


@app.route(route="same")
def a_first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("first")


@app.route(route="same")
def b_second(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("second")
