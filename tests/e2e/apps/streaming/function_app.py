import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, StreamingResponse

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="count/{n:int}", methods=["GET"])
async def count(req: Request) -> StreamingResponse:
    n = int(req.path_params["n"])

    async def gen():
        for i in range(n):
            yield f"{i}\n".encode()

    return StreamingResponse(gen(), media_type="text/plain")


@app.route(route="upload", methods=["POST"])
async def upload(req: Request) -> StreamingResponse:
    total = 0
    async for chunk in req.stream():  # the body arrives chunk by chunk, never buffered whole
        total += len(chunk)

    async def gen():
        yield b"received "
        yield str(total).encode()

    return StreamingResponse(gen(), media_type="text/plain")
