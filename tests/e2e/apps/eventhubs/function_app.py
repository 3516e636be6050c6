import json
import os
import time
import typing
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


@app.event_hub_message_trigger(arg_name="event", event_hub_name="orders", connection="EventHubConnection")
def one(event: func.EventHubEvent) -> None:
    meta = event.metadata or {}
    mark("orders", body=event.get_body().decode(), partition=meta["PartitionContext"]["PartitionId"],
         seq=event.sequence_number, offset=event.offset, key=event.partition_key,
         enqueued=event.enqueued_time.isoformat() if event.enqueued_time else None,
         group=meta["PartitionContext"]["ConsumerGroup"], hub=meta["PartitionContext"]["EventHubName"],
         properties=meta.get("Properties"), system=sorted(meta.get("SystemProperties", {})))
    if os.environ.get("SLOW_ORDERS"):
        time.sleep(float(os.environ["SLOW_ORDERS"]))


@app.event_hub_message_trigger(arg_name="events", event_hub_name="batches", connection="EventHubConnection",
                               cardinality="many")
def many(events: typing.List[func.EventHubEvent]) -> None:  # noqa: UP006  (the library checks typing.List)
    meta = events[0].metadata or {}
    mark("batches", bodies=[e.get_body().decode() for e in events], seqs=[e.sequence_number for e in events],
         offsets=[e.offset for e in events], keys=[e.partition_key for e in events],
         partition=meta["PartitionContext"]["PartitionId"], seq_array=meta["SequenceNumberArray"],
         arrays=sorted(k for k in meta if k.endswith("Array")))


@app.event_hub_message_trigger(arg_name="event", event_hub_name="fails", connection="EventHubConnection")
def failing(event: func.EventHubEvent) -> None:
    mark("fails", body=event.get_body().decode(), seq=event.sequence_number)
    raise RuntimeError("this event always fails")


@app.event_hub_message_trigger(arg_name="event", event_hub_name="orders", consumer_group="forwarder",
                               connection="EventHubConnection")
@app.event_hub_output(arg_name="$return", event_hub_name="forwarded", connection="EventHubConnection")
def forward(event: func.EventHubEvent) -> str:
    return "fwd:" + event.get_body().decode()


@app.event_hub_message_trigger(arg_name="event", event_hub_name="forwarded", connection="EventHubConnection")
def forwarded(event: func.EventHubEvent) -> None:
    mark("forwarded", body=event.get_body().decode())


@app.route(route="send/{count}", methods=["POST"])
@app.event_hub_output(arg_name="out", event_hub_name="outputs", connection="EventHubConnection")
def send(req: func.HttpRequest, out: func.Out[typing.List[str]]) -> func.HttpResponse:  # noqa: UP006
    out.set([f"item-{n}" for n in range(int(req.route_params["count"]))])
    return func.HttpResponse("sent", status_code=202)


@app.event_hub_message_trigger(arg_name="events", event_hub_name="outputs", connection="EventHubConnection",
                               cardinality="many")
def outputs(events: typing.List[func.EventHubEvent]) -> None:  # noqa: UP006
    for event in events:
        mark("outputs", body=event.get_body().decode(), seq=event.sequence_number)
