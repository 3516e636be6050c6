import logging

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name", "world")
    logging.info("Saying hello to %s", name)
    return func.HttpResponse(f"Hello, {name}!")


@app.route(route="secret", auth_level=func.AuthLevel.FUNCTION)
async def secret(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("You presented a valid function key.")
