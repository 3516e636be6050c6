import azure.functions as func
from flask import Flask, request

flask_app = Flask(__name__)


@flask_app.get("/hi/<name>")
def hi(name: str) -> str:
    return f"hi {name} q={request.args.get('q', '')}"


@flask_app.post("/echo")
def echo() -> dict:
    return {"len": len(request.get_data()), "ct": request.content_type}


app = func.WsgiFunctionApp(app=flask_app.wsgi_app, http_auth_level=func.AuthLevel.ANONYMOUS)
