"""Queue benchmark app (bench/queue_throughput.py, bench/queue_latency.py, bench/queue_enqueue_under_load.py).

Throughput: a no-op ``async def`` queue function. It counts calls in memory and writes one file once it has seen
``BENCH_EXPECTED`` messages, so the measurement adds no I/O per message.
Latency: an HTTP function stamps ``time.time()`` into the message it puts on a queue output binding; the queue
function takes ``time.time()`` first thing and appends the difference (same machine clock) to a file.
"""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))
_seen = {"count": 0, "first": 0.0}


def _write_line(name: str, line: str) -> None:
    # O_APPEND keeps lines whole; one write per line.
    fd = os.open(Path(os.environ["BENCH_MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.queue_trigger(arg_name="msg", queue_name="bench-throughput", connection="AzureWebJobsStorage")
async def drain(msg: func.QueueMessage) -> None:
    now = time.time()
    _seen["count"] += 1
    if _seen["count"] == 1:
        _seen["first"] = now
    if _seen["count"] == _EXPECTED:
        _write_line("throughput", json.dumps({"first": _seen["first"], "last": now, "count": _seen["count"]}))


@app.route(route="send", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="bench-latency", connection="AzureWebJobsStorage")
async def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    # The output binding enqueues right after this function returns: the stamp is the enqueue time.
    out.set(json.dumps({"sent": time.time()}))
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="bench-latency", connection="AzureWebJobsStorage")
async def receive(msg: func.QueueMessage) -> None:
    now = time.time()
    sent = json.loads(msg.get_body())["sent"]
    _write_line("latency", f"{(now - sent) * 1000:.4f}")


# bench/queue_enqueue_under_load.py: an HTTP function enqueues onto a queue that a no-op function consumes in
# every instance; the client times the HTTP round trip (the output binding's enqueue is part of it).
@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="bench-load", connection="AzureWebJobsStorage")
async def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(json.dumps({"sent": time.time()}))
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="bench-load", connection="AzureWebJobsStorage")
async def consume(msg: func.QueueMessage) -> None:
    return None
