# ruff: noqa: UP006  (typing.List is what apps write and what the library's converters understand)
import json
import os
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


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    data = event.get_json()
    mark("on_event", id=event.id, subject=event.subject, event_type=event.event_type, topic=event.topic,
         data=data, data_version=event.data_version,
         event_time=event.event_time.isoformat() if event.event_time else None)
    if isinstance(data, dict) and data.get("fail"):
        raise RuntimeError(f"failing on purpose: {data['fail']}")


@app.event_grid_trigger(arg_name="event")
def on_cloud_event(event: func.EventGridEvent) -> None:
    mark("on_cloud_event", type=type(event).__name__, id=event.id, data=event.get_json())


@app.event_grid_trigger(arg_name="event")
def flaky(event: func.EventGridEvent) -> None:
    mark("flaky", id=event.id, data=event.get_json())
    raise RuntimeError("flaky always fails")


@app.route(route="emit", methods=["POST"])
@app.event_grid_output(arg_name="out", topic_endpoint_uri="ORDERS_TOPIC_URI", topic_key_setting="ORDERS_TOPIC_KEY")
def emit(req: func.HttpRequest, out: func.Out[typing.List[func.EventGridOutputEvent]]) -> str:
    import datetime

    items = req.get_json()
    out.set([
        func.EventGridOutputEvent(id=str(item["id"]), data=item, subject=item.get("subject", f"/orders/{item['id']}"),
                                  event_type=item.get("type", "Contoso.Orders.Created"),
                                  event_time=datetime.datetime.now(datetime.timezone.utc), data_version="1.0")
        for item in items
    ])
    return "sent"


@app.route(route="emit-remote", methods=["POST"])
@app.event_grid_output(arg_name="out", topic_endpoint_uri="REMOTE_TOPIC_URI", topic_key_setting="REMOTE_TOPIC_KEY")
def emit_remote(req: func.HttpRequest, out: func.Out[func.EventGridOutputEvent]) -> str:
    import datetime

    item = req.get_json()
    out.set(func.EventGridOutputEvent(id=str(item["id"]), data=item, subject="/remote", event_type="Remote.Sent",
                                      event_time=datetime.datetime.now(datetime.timezone.utc), data_version="1.0"))
    return "sent"


@app.blob_trigger(arg_name="blob", path="uploads/{name}", connection="AzureWebJobsStorage", source="EventGrid")
def on_upload(blob: func.InputStream) -> None:
    mark("on_upload", blob_name=blob.name, length=blob.length, content=blob.read().decode())


@app.route(route="upload/{name}", methods=["POST"])
@app.blob_output(arg_name="out", path="uploads/{name}", connection="AzureWebJobsStorage")
def upload(req: func.HttpRequest, out: func.Out[bytes]) -> str:
    out.set(req.get_body())
    return "stored"
