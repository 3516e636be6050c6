import azure.functions as func
from fastapi import FastAPI
from flask import Flask

api = FastAPI()
web = Flask(__name__)


@api.get("/api/asgi/{item}")
async def asgi_item(item: str) -> dict:
    return {"item": item, "via": "asgi"}


@web.get("/api/wsgi/<item>")
def wsgi_item(item: str) -> dict:
    return {"item": item, "via": "wsgi"}


app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="asgi/{*rest}")
async def asgi(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return await func.AsgiMiddleware(api).handle_async(req, context)


@app.route(route="wsgi/{*rest}")
def wsgi(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.WsgiMiddleware(web.wsgi_app).handle(req, context)
