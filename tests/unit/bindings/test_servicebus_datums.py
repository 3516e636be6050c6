"""Service Bus messages through the azure-functions library's own converter, as the worker hands them over."""

from __future__ import annotations

import datetime
from typing import Any

import azure.functions as func
from azure.functions import meta

from overcast.backends.servicebus_store import BusMessage, OutgoingMessage
from overcast.bindings.servicebus import batch_datum, binding_data, outgoing, trigger_datum

START = 1_700_000_000.0
CONVERTER: Any = meta.get_binding_registry().get("serviceBusTrigger")  # type: ignore[no-untyped-call]


def received(body: bytes, seq: int = 7, **fields: Any) -> BusMessage:
    message = OutgoingMessage(body, message_id=f"m-{seq}", **fields)
    return BusMessage("orders", seq, message, START, START + 3600, 2, "active", "tok-1", START + 60)


def test_one_message_has_every_field_the_library_exposes() -> None:
    message = received(b'{"id": 42}', session_id="s", content_type="application/json", correlation_id="c",
                       subject="label", to="to", reply_to="r", reply_to_session_id="rs", partition_key="pk",
                       time_to_live=3600.0, application_properties={"color": "red", "n": 1})
    datum, metadata = trigger_datum(message)
    got: func.ServiceBusMessage = CONVERTER.decode(datum, trigger_metadata=metadata)
    assert got.get_body() == b'{"id": 42}' and got.message_id == "m-7" and got.sequence_number == 7
    assert (got.session_id, got.content_type, got.correlation_id, got.label, got.subject) == (
        "s", "application/json", "c", "label", "label")
    assert (got.to, got.reply_to, got.reply_to_session_id, got.partition_key) == ("to", "r", "rs", "pk")
    assert got.delivery_count == 2 and got.lock_token == "tok-1"
    assert got.enqueued_time_utc == datetime.datetime.fromtimestamp(START, datetime.timezone.utc)
    assert got.expires_at_utc == datetime.datetime.fromtimestamp(START + 3600, datetime.timezone.utc)
    assert got.locked_until == datetime.datetime.fromtimestamp(START + 60, datetime.timezone.utc)
    assert got.time_to_live == datetime.timedelta(hours=1)
    assert got.application_properties == {"color": "red", "n": 1} == got.user_properties
    assert got.metadata["MessageId"] == "m-7"


def test_a_batch_decodes_to_a_list_in_order() -> None:
    datum, metadata = batch_datum([received(b"a", 1), received(b"b", 2, application_properties={"k": "v"})])
    got: list[func.ServiceBusMessage] = CONVERTER.decode(datum, trigger_metadata=metadata)
    assert [(m.get_body(), m.sequence_number, m.message_id) for m in got] == [(b"a", 1, "m-1"), (b"b", 2, "m-2")]
    assert got[1].application_properties == {"k": "v"}
    binary, _ = batch_datum([received(b"\xff", 1)])
    assert binary.type == "collection_bytes"


def test_binary_bodies_and_binding_data() -> None:
    datum, _ = trigger_datum(received(b"\xff\x00"))
    assert datum.type == "bytes"
    data = binding_data(received(b'{"MessageId": "from-body", "order": "o-1"}'))
    assert data["MessageId"] == "from-body" and data["order"] == "o-1" and data["SequenceNumber"] == 7


def test_outputs_become_messages() -> None:
    assert [m.body for m in outgoing(meta.Datum("hi", "string"))] == [b"hi"]
    assert [m.body for m in outgoing(meta.Datum(b"\x01", "bytes"))] == [b"\x01"]
    listed = outgoing(meta.Datum('["a", {"b": 1}]', "json"))
    assert [(m.body, m.content_type) for m in listed] == [(b"a", None), (b'{"b": 1}', "application/json")]
    assert outgoing(None) == []


def test_binding_expressions_read_properties_metadata_and_the_json_body() -> None:
    from overcast.bindings.expressions import BindingTemplate

    data = binding_data(received(b'{"order": "o-1"}', application_properties={"color": "red"}))
    template = BindingTemplate.parse("out-{UserProperties.color}-{ApplicationProperties.color}-{order}-{MessageId}")
    assert template.bind(data, method_name="f") == "out-red-red-o-1-m-7"
