import azure.functions as func
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

api = FastAPI()
STATE = {"started": False}


@api.on_event("startup")
async def startup() -> None:
    STATE["started"] = True


@api.get("/hello/{name}")
async def hello(name: str, request: Request) -> dict:
    return {"hello": name, "started": STATE["started"], "fn": request.scope.get("azure_functions.function_name")}


@api.post("/upload")
async def upload(request: Request) -> dict:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return {"received": total}


@api.get("/stream")
async def stream() -> StreamingResponse:
    async def gen():
        for i in range(5):
            yield f"chunk{i}\n".encode()

    return StreamingResponse(gen(), media_type="text/plain")


app = func.AsgiFunctionApp(app=api, http_auth_level=func.AuthLevel.ANONYMOUS)
