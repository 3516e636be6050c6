import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="bad", trigger_arg_name="my_req")
def bad(my_req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never")


@app.route(route="good")
def good(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("good")
