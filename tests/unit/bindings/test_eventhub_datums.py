"""Events through the azure-functions library's own Event Hubs converters, with the extension's metadata."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from azure.functions.meta import Datum

from overcast.app.converters import get_converter
from overcast.backends.eventhubs_store import StoredEvent
from overcast.bindings.eventhub import PartitionContext, batch_datum, binding_data, output_bodies, single_datum

WHEN = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)

CONTEXT = PartitionContext("localhost", "orders", "$Default", "2")


def event(seq: int, body: bytes = b'{"id": 7}', key: str | None = "k1") -> StoredEvent:
    return StoredEvent("2", seq, str(seq * 10), WHEN, body, {"kind": "order"}, key)


def test_one_event_decodes_with_every_field_and_the_extensions_metadata() -> None:
    datum, metadata = single_datum(event(5), CONTEXT, binary=False)
    decoded = get_converter("eventHubTrigger").decode(datum, trigger_metadata=metadata)
    assert decoded.get_body() == b'{"id": 7}'
    assert (decoded.sequence_number, decoded.offset, decoded.partition_key) == (5, "50", "k1")
    assert decoded.enqueued_time == WHEN
    meta = decoded.metadata
    assert meta["PartitionContext"] == {"FullyQualifiedNamespace": "localhost", "EventHubName": "orders",
                                        "ConsumerGroup": "$Default", "PartitionId": "2"}
    assert meta["Properties"] == {"kind": "order"}
    assert meta["SequenceNumber"] == 5 and meta["Offset"] == "50" and meta["PartitionKey"] == "k1"
    assert meta["EnqueuedTimeUtc"] == "2024-05-01T12:00:00.123456Z"
    system = meta["SystemProperties"]
    assert system["x-opt-sequence-number"] == 5 and system["x-opt-offset"] == "50"
    assert system["x-opt-partition-key"] == "k1" and system["SequenceNumber"] == 5
    assert set(meta) == {"PartitionContext", "PartitionKey", "Offset", "SequenceNumber", "EnqueuedTimeUtc",
                         "Properties", "SystemProperties"}


def test_a_keyless_binary_event_is_bytes_with_a_null_key() -> None:
    datum, metadata = single_datum(event(0, body=b"\xff\x00", key=None), CONTEXT, binary=False)
    assert datum.type == "bytes"
    decoded = get_converter("eventHubTrigger").decode(datum, trigger_metadata=metadata)
    assert decoded.get_body() == b"\xff\x00" and decoded.partition_key is None
    assert "x-opt-partition-key" not in decoded.metadata["SystemProperties"]
    assert single_datum(event(0, body=b"text"), CONTEXT, binary=True)[0].type == "bytes"


def test_a_batch_decodes_to_events_with_the_array_metadata() -> None:
    batch = [event(3), event(4, body=b"plain", key=None)]
    datum, metadata = batch_datum(batch, CONTEXT, binary=False)
    assert datum.type == "collection_string"
    decoded = get_converter("eventHubTrigger").decode(datum, trigger_metadata=metadata)
    assert [e.get_body() for e in decoded] == [b'{"id": 7}', b"plain"]
    assert [e.sequence_number for e in decoded] == [3, 4]
    assert [e.partition_key for e in decoded] == ["k1", None]
    assert [e.enqueued_time for e in decoded] == [WHEN, WHEN]
    meta = decoded[0].metadata
    assert set(meta) == {"PartitionContext", "PartitionKeyArray", "OffsetArray", "SequenceNumberArray",
                         "EnqueuedTimeUtcArray", "PropertiesArray", "SystemPropertiesArray"}
    assert meta["SequenceNumberArray"] == [3, 4] and meta["OffsetArray"] == ["30", "40"]
    assert meta["PropertiesArray"] == [{"kind": "order"}, {"kind": "order"}]
    assert [p["SequenceNumber"] for p in meta["SystemPropertiesArray"]] == [3, 4]


def test_a_batch_with_binary_bodies_is_a_bytes_collection() -> None:
    datum, metadata = batch_datum([event(0, body=b"\xff")], CONTEXT, binary=False)
    assert datum.type == "collection_bytes"
    assert get_converter("eventHubTrigger").decode(datum, trigger_metadata=metadata)[0].get_body() == b"\xff"


def test_binding_data_holds_the_metadata_and_json_body_properties() -> None:
    data = binding_data([event(1)], CONTEXT, single=True)
    assert str(data["id"]) == "7" and data["SequenceNumber"] == 1 and data["PartitionKey"] == "k1"
    many = binding_data([event(1), event(2)], CONTEXT, single=False)
    assert many["SequenceNumberArray"] == [1, 2] and "id" not in many


@pytest.mark.parametrize(("value", "bodies"), [
    ("text", [b"text"]),
    (b"\x00\x01", [b"\x00\x01"]),
    (["a", "b"], [b"a", b"b"]),
    (None, []),
])
def test_outputs_are_one_event_per_item(value: object, bodies: list[bytes]) -> None:
    datum = get_converter("eventHub").encode(value, expected_type=None)
    assert output_bodies(datum) == bodies


def test_json_list_items_that_are_objects_become_json_events() -> None:
    assert output_bodies(Datum(json.dumps([{"a": 1}, "b"]), "json")) == [b'{"a": 1}', b"b"]
