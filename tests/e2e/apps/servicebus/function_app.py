import json
import os
import time
from pathlib import Path
from typing import List  # noqa: UP035  # the library's converter accepts typing.List, not list[...]

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
CONNECTION = "ServiceBusConnection"


def mark(name: str, **fields: object) -> None:
    """Append one JSON line to $MARKER_DIR/<name> (O_APPEND keeps lines from several processes whole)."""
    line = json.dumps({"pid": os.getpid(), **fields}, default=str) + "\n"
    fd = os.open(Path(os.environ["MARKER_DIR"]) / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@app.route(route="send/{queue}", methods=["POST"])
@app.service_bus_queue_output(arg_name="out", connection=CONNECTION, queue_name="{queue}")
def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse(status_code=202)


@app.route(route="publish", methods=["POST"])
@app.service_bus_topic_output(arg_name="out", connection=CONNECTION, topic_name="events")
def publish(req: func.HttpRequest, out: func.Out[bytes]) -> func.HttpResponse:
    out.set(req.get_body())
    return func.HttpResponse(status_code=202)


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="relay")
@app.service_bus_queue_output(arg_name="$return", connection=CONNECTION, queue_name="relayed")
def relay(msg: str) -> str:
    return f"relayed:{msg}"


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="orders")
@app.service_bus_queue_output(arg_name="done", connection=CONNECTION, queue_name="done-{kind}")
def orders(msg: func.ServiceBusMessage, done: func.Out[str]) -> None:
    body = msg.get_body().decode()
    mark("orders", at=time.time(), body=body, delivery_count=msg.delivery_count, message_id=msg.message_id,
         sequence_number=msg.sequence_number, properties=msg.application_properties, subject=msg.label,
         enqueued=msg.enqueued_time_utc, lock_token=msg.lock_token, locked_until=msg.locked_until,
         content_type=msg.content_type, correlation_id=msg.correlation_id)
    done.set(f"done:{body}")


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="fail")
def failing(msg: func.ServiceBusMessage) -> None:
    mark("fail", delivery_count=msg.delivery_count)
    raise RuntimeError("this message always fails")


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="fail/$deadletterqueue")
def dead_letters(msg: func.ServiceBusMessage) -> None:
    mark("dead", body=msg.get_body().decode(), reason=msg.dead_letter_reason,
         description=msg.dead_letter_error_description)


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="slow")
def slow(msg: func.ServiceBusMessage) -> None:
    mark("slow", event="start", delivery_count=msg.delivery_count)
    if msg.delivery_count == 1:
        time.sleep(120)  # the test kills this instance here
    mark("slow", event="finish", delivery_count=msg.delivery_count)


@app.service_bus_queue_trigger(arg_name="msg", connection=CONNECTION, queue_name="sessions", is_sessions_enabled=True)
def sessions(msg: func.ServiceBusMessage) -> None:
    mark("sessions", event="start", session=msg.session_id, body=msg.get_body().decode())
    time.sleep(0.05)
    mark("sessions", event="end", session=msg.session_id, body=msg.get_body().decode())


@app.service_bus_queue_trigger(arg_name="msgs", connection=CONNECTION, queue_name="batch", cardinality="many")
def batch(msgs: List[func.ServiceBusMessage]) -> None:  # noqa: UP006
    mark("batch", bodies=[m.get_body().decode() for m in msgs], ids=[m.message_id for m in msgs])


@app.service_bus_topic_trigger(arg_name="msg", connection=CONNECTION, topic_name="events", subscription_name="all")
def all_events(msg: func.ServiceBusMessage) -> None:
    mark("events-all", body=msg.get_body().decode())


@app.service_bus_topic_trigger(arg_name="msg", connection=CONNECTION, topic_name="events", subscription_name="red")
def red_events(msg: func.ServiceBusMessage) -> None:
    mark("events-red", body=msg.get_body().decode(), rule=msg.application_properties.get("RuleName"))
