import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def mark(name: str, **fields: object) -> None:
    """Append one JSON line to $MARKER_DIR/<name> (O_APPEND keeps lines from several processes whole)."""
    line = json.dumps({"pid": os.getpid(), **fields}) + "\n"
    fd = os.open(Path(os.environ["MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="done", queue_name="done", connection="AzureWebJobsStorage")
def process(msg: func.QueueMessage, done: func.Out[str]) -> None:
    body = msg.get_body().decode()
    mark("orders", body=body, dequeue_count=msg.dequeue_count, id=msg.id)
    done.set(f"done:{body}")


@app.queue_trigger(arg_name="msg", queue_name="fail", connection="AzureWebJobsStorage")
def failing(msg: func.QueueMessage) -> None:
    mark("fail", dequeue_count=msg.dequeue_count)
    raise RuntimeError("this message always fails")


@app.queue_trigger(arg_name="msg", queue_name="slow", connection="AzureWebJobsStorage")
def slow(msg: func.QueueMessage) -> None:
    mark("slow", event="start", dequeue_count=msg.dequeue_count)
    if msg.dequeue_count == 1:
        time.sleep(120)  # the test kills this instance here
    mark("slow", event="finish", dequeue_count=msg.dequeue_count)


@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:01")
@app.queue_trigger(arg_name="msg", queue_name="retry", connection="AzureWebJobsStorage")
def retried(msg: func.QueueMessage, context: func.Context) -> None:
    mark("retry", retry_count=context.retry_context.retry_count, max=context.retry_context.max_retry_count)
    if context.retry_context.retry_count < 2:
        raise ValueError("fail until the second retry")


@app.queue_trigger(arg_name="text", queue_name="plain", connection="AzureWebJobsStorage")
async def plain(text: str) -> None:
    mark("plain", text=text)


@app.route(route="enqueue/{value}", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="orders", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.route_params["value"])
    return func.HttpResponse("queued", status_code=202)


@app.route(route="enqueue-body/{queue}", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="{queue}", connection="AzureWebJobsStorage")
def enqueue_body(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)
