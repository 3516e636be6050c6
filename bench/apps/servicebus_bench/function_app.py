"""Service Bus benchmark app (bench/servicebus_throughput.py).

Throughput: a no-op ``async def`` Service Bus function that counts calls in memory and writes one file once it has
seen ``BENCH_EXPECTED`` messages (no I/O per message). Latency: an HTTP function stamps ``time.time()`` into the
message it puts on a Service Bus output binding; the triggered function takes ``time.time()`` first thing and
appends the difference (same machine clock) to a file.
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
    fd = os.open(Path(os.environ["BENCH_MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.service_bus_queue_trigger(arg_name="msg", connection="ServiceBus", queue_name="bench-throughput")
async def drain(msg: func.ServiceBusMessage) -> None:
    now = time.time()
    _seen["count"] += 1
    if _seen["count"] == 1:
        _seen["first"] = now
    if _seen["count"] == _EXPECTED:
        _write_line("throughput", json.dumps({"first": _seen["first"], "last": now, "count": _seen["count"]}))


@app.route(route="send", methods=["POST"])
@app.service_bus_queue_output(arg_name="out", connection="ServiceBus", queue_name="bench-latency")
async def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    # The output binding sends right after this function returns: the stamp is the send time.
    out.set(json.dumps({"sent": time.time()}))
    return func.HttpResponse("sent", status_code=202)


@app.service_bus_queue_trigger(arg_name="msg", connection="ServiceBus", queue_name="bench-latency")
async def receive(msg: func.ServiceBusMessage) -> None:
    now = time.time()
    sent = json.loads(msg.get_body())["sent"]
    _write_line("latency", f"{(now - sent) * 1000:.4f}")
