import asyncio
import json
import logging
import threading
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
COUNTER = {"calls": 0}


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name")
    if not name:
        try:
            name = req.get_json().get("name")
        except ValueError:
            name = None
    return func.HttpResponse(f"Hello, {name or 'world'}!")


@app.route(route="ahello")
async def ahello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hello async")


@app.route(route="items/{id:int}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="files/{*rest}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="opt/{tag?}")
def optional(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"tag": req.route_params.get("tag")}), mimetype="application/json")


@app.route(route="echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    return func.HttpResponse(
        json.dumps({
            "method": req.method, "url": req.url, "headers": dict(req.headers), "params": dict(req.params),
            "route_params": dict(req.route_params), "body_len": len(body),
            "body": body.decode("utf-8", "replace"),
        }),
        mimetype="application/json",
    )


@app.route(route="form", methods=["POST"])
def form(req: func.HttpRequest) -> func.HttpResponse:
    files = {k: f.read().decode() for k, f in req.files.items()}
    return func.HttpResponse(json.dumps({"form": dict(req.form), "files": files}), mimetype="application/json")


@app.route(route="secure", auth_level=func.AuthLevel.FUNCTION)
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("secret")


@app.route(route="needsadmin", auth_level=func.AuthLevel.ADMIN)
def adminonly(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin")


@app.route(route="strjson")
def strjson(req: func.HttpRequest) -> str:
    return '{"body": "created", "status": 201, "headers": {"X-Made": "yes"}}'


@app.route(route="strplain")
def strplain(req: func.HttpRequest) -> str:
    return req.params.get("v", "Hello")


@app.function_name("outresp")
@app.route(route="outresp", binding_arg_name="resp")
def out_response(req: func.HttpRequest, resp: func.Out[func.HttpResponse]) -> None:
    if req.params.get("set"):
        resp.set(func.HttpResponse("from out", status_code=202))


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("boom for the log")


@app.route(route="none")
def returns_none(req: func.HttpRequest) -> func.HttpResponse:
    return None  # type: ignore[return-value]


@app.route(route="ctx")
def ctx(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    COUNTER["calls"] += 1
    return func.HttpResponse(json.dumps({
        "invocation_id": context.invocation_id,
        "function_name": context.function_name,
        "function_directory": context.function_directory,
        "trace_parent": context.trace_context.trace_parent,
        "retry_count": context.retry_context.retry_count,
        "max_retry_count": context.retry_context.max_retry_count,
        "tls": getattr(context.thread_local_storage, "invocation_id", None),
        "calls": COUNTER["calls"],
    }), mimetype="application/json")


@app.route(route="logs")
async def logs(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    logging.info("log from function")

    def worker() -> None:
        logging.info("log from thread")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()

    async def task() -> None:
        logging.info("log from task")

    await asyncio.create_task(task())
    return func.HttpResponse(context.invocation_id)


@app.route(route="slowasync")
async def slowasync(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("s", "10")))
    return func.HttpResponse("done")


@app.route(route="slowsync")
def slowsync(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "10")))
    return func.HttpResponse("done")


@app.route(route="pid")
def pid(req: func.HttpRequest) -> func.HttpResponse:
    import os

    return func.HttpResponse(str(os.getpid()))


@app.route(route="disabledfn")
def disabledfn(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("should not run")


@app.schedule(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False)
def nightly(timer: func.TimerRequest) -> None:
    import os
    import pathlib

    pathlib.Path(os.environ["MARKER_FILE"]).write_text(f"past_due={timer.past_due}")


@app.route(route="env/{name}")
def env(req: func.HttpRequest) -> func.HttpResponse:
    import os

    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


@app.route(route="thread")
def thread_name(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(threading.current_thread().name)
