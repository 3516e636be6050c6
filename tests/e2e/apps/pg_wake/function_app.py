"""The listener of tests/e2e/test_postgres_wakeups.py: one trigger of each kind, each polling rarely (host.json, the
change feed's options here, the test's OVERCAST_* knobs), so a run soon after another instance's write shows that the
write woke it. Each trigger appends a line to $MARKER_DIR/<kind>."""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
SLOW = 600_000  # ms: the change feed's poll delay and lease balance interval, far beyond what the test waits
STORE = "AzureWebJobsStorage"  # every binding on the app's PostgreSQL database


def mark(name: str, tag: str) -> None:
    line = json.dumps({"pid": os.getpid(), "tag": tag, "at": time.time()}) + "\n"
    fd = os.open(Path(os.environ["MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@app.service_bus_queue_trigger(arg_name="msg", queue_name="wakejobs", connection=STORE)
def on_servicebus(msg: func.ServiceBusMessage) -> None:
    mark("servicebus", msg.get_body().decode())


@app.blob_trigger(arg_name="blob", path="wakeblobs/{name}", connection=STORE)
def on_blob(blob: func.InputStream) -> None:
    mark("blob", blob.read().decode())


@app.cosmos_db_trigger(arg_name="docs", connection=STORE, database_name="wakedb", container_name="docs",
                       lease_container_name="leases", create_lease_container_if_not_exists=True,
                       feed_poll_delay=SLOW, lease_acquire_interval=SLOW)
def on_cosmos(docs: func.DocumentList) -> None:
    for doc in docs:
        mark("cosmos", str(doc["id"]))


@app.event_grid_trigger(arg_name="event")
def on_grid(event: func.EventGridEvent) -> None:
    mark("eventgrid", str(event.get_json()["tag"]))
