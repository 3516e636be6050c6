"""Event Hubs benchmark app (bench/eventhubs_throughput.py).

Throughput: a no-op ``async def`` function with ``cardinality="many"`` (batches of up to 100, host.json's
default). It counts events in memory and writes one file once it has seen ``BENCH_EXPECTED`` of them, so the
measurement adds no I/O per event.
Latency: an HTTP function stamps ``time.time()`` into the event it sends through an ``event_hub_output`` binding;
the ``cardinality="one"`` trigger takes ``time.time()`` first thing and appends the difference to a file.
"""

import json
import os
import time
import typing
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))
_seen = {"count": 0, "first": 0.0, "first_batch": 0}


def _write_line(name: str, line: str) -> None:
    fd = os.open(Path(os.environ["BENCH_MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.event_hub_message_trigger(arg_name="events", event_hub_name="bench-throughput", connection="EventHubs",
                               cardinality="many")
async def drain(events: typing.List[func.EventHubEvent]) -> None:  # noqa: UP006 (the library checks typing.List)
    now = time.time()
    if _seen["count"] == 0:
        _seen["first"], _seen["first_batch"] = now, len(events)
    _seen["count"] += len(events)
    if _seen["count"] == _EXPECTED:
        _write_line("throughput", json.dumps({"first": _seen["first"], "last": now, "count": _seen["count"],
                                              "first_batch": _seen["first_batch"]}))


@app.route(route="send", methods=["POST"])
@app.event_hub_output(arg_name="out", event_hub_name="bench-latency", connection="EventHubs")
async def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    # The output binding sends right after this function returns: the stamp is the send time.
    out.set(json.dumps({"sent": time.time()}))
    return func.HttpResponse("sent", status_code=202)


@app.event_hub_message_trigger(arg_name="event", event_hub_name="bench-latency", connection="EventHubs")
async def receive(event: func.EventHubEvent) -> None:
    now = time.time()
    _write_line("latency", str((now - json.loads(event.get_body())["sent"]) * 1000))
