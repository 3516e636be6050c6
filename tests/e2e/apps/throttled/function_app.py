import asyncio

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="slow")
async def slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(1.5)
    return func.HttpResponse("ok")
