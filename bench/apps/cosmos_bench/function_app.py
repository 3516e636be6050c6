"""Cosmos DB benchmark app (bench/cosmos_latency.py).

An ``async def`` HTTP function stamps ``time.time()`` into an item it upserts through a Cosmos DB output binding
(the binding writes right after the function returns and wakes this instance's change feed listener in process);
the ``async def`` change feed function takes ``time.time()`` first thing and appends ``now - sent`` for each item
(same machine clock) to a file. ``feed_poll_delay`` stays at Azure's 5 s: only the wake-up path is measured.
"""

import json
import os
import time
import uuid
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _write_line(name: str, line: str) -> None:
    # O_APPEND keeps lines whole; one write per line.
    fd = os.open(Path(os.environ["BENCH_MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.route(route="send", methods=["POST"])
@app.cosmos_db_output(arg_name="out", connection="CosmosConnection", database_name="bench", container_name="items",
                      create_if_not_exists=True, partition_key="/id")
async def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    # The output binding upserts right after this function returns: the stamp is the write time.
    out.set(json.dumps({"id": uuid.uuid4().hex, "sent": time.time()}))
    return func.HttpResponse("written", status_code=202)


@app.cosmos_db_trigger(arg_name="docs", connection="CosmosConnection", database_name="bench", container_name="items",
                       create_lease_container_if_not_exists=True)
async def feed(docs: func.DocumentList) -> None:
    now = time.time()
    for doc in docs:
        _write_line("latency", str((now - doc["sent"]) * 1000))
