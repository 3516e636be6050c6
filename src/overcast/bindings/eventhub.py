"""Events ↔ the Datums of the library's Event Hubs converters, with the trigger metadata exactly as the extension
builds it (``EventHubTriggerBindingStrategy.GetBindingData``) and the host sends it to the worker.

One event (``cardinality: one``): ``PartitionKey``, ``Offset``, ``SequenceNumber``, ``EnqueuedTimeUtc``,
``Properties``, ``SystemProperties``; a batch (``many``): the same names with ``Array`` appended, one item per
event; both: ``PartitionContext`` (``FullyQualifiedNamespace``, ``EventHubName``, ``ConsumerGroup``,
``PartitionId``). Strings and longs travel as ``string`` / ``int``, arrays of them as the worker's typed collections
(``collection_string``, ``collection_sint64``), other values as JSON, and times as the host writes a UTC DateTime
(``2020-07-14T01:27:55.627Z``): the shapes of the metadata the library's own tests captured from a real host.
``SystemProperties`` holds the AMQP annotations (``x-opt-sequence-number``, ``x-opt-offset``,
``x-opt-enqueued-time``, ``x-opt-partition-key``) plus the four names the extension copies in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from overcast.backends.eventhubs_store import StoredEvent


def wakeup_name(hub: str, partition: str) -> str:
    """The in-process wake-up of one partition's pumps (a send through this instance sets it)."""
    return f"eventhubs/{hub.lower()}/{partition}"


@dataclass
class Collection:
    """The worker's typed collections (its protobuf messages have these four repeated fields)."""

    string: list[str] = field(default_factory=list)
    bytes: list[bytes] = field(default_factory=list)
    sint64: list[int] = field(default_factory=list)
    double: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PartitionContext:
    namespace: str
    hub: str
    consumer_group: str
    partition: str

    def as_json(self) -> dict[str, str]:
        return {"FullyQualifiedNamespace": self.namespace, "EventHubName": self.hub,
                "ConsumerGroup": self.consumer_group, "PartitionId": self.partition}


def dotnet_utc(moment: datetime) -> str:
    """A UTC time as the host's JSON writes a .NET DateTime of kind Utc: ``2020-07-14T01:27:55.627Z`` (the
    fraction's trailing zeros dropped, none when it is zero)."""
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def enqueued_text(event: StoredEvent) -> str:
    return dotnet_utc(event.enqueued_time)


def system_properties(event: StoredEvent) -> dict[str, Any]:
    enqueued = enqueued_text(event)
    props: dict[str, Any] = {
        "x-opt-sequence-number": event.sequence_number,
        "x-opt-offset": event.offset,
        "x-opt-enqueued-time": enqueued,
    }
    if event.partition_key is not None:
        props["x-opt-partition-key"] = event.partition_key
    props.update({"SequenceNumber": event.sequence_number, "Offset": event.offset,
                  "PartitionKey": event.partition_key, "EnqueuedTimeUtc": enqueued})
    return props


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json(value: Any) -> Any:
    from azure.functions.meta import Datum

    return Datum(json.dumps(value), "json")


def single_datum(event: StoredEvent, context: PartitionContext, binary: bool) -> tuple[Any, dict[str, Any]]:
    """(trigger Datum, trigger metadata) for one event."""
    from azure.functions.meta import Datum

    text = None if binary else _text(event.body)
    datum = Datum(text, "string") if text is not None else Datum(event.body, "bytes")
    metadata = {
        "PartitionContext": _json(context.as_json()),
        "PartitionKey": Datum(event.partition_key, "string") if event.partition_key is not None else Datum(None, None),
        "Offset": Datum(event.offset, "string"),
        "SequenceNumber": Datum(event.sequence_number, "int"),
        "EnqueuedTimeUtc": Datum(enqueued_text(event), "string"),
        "Properties": _json(dict(event.properties)),
        "SystemProperties": _json(system_properties(event)),
    }
    return datum, metadata


def batch_datum(events: Sequence[StoredEvent], context: PartitionContext, binary: bool) -> tuple[Any, dict[str, Any]]:
    """(trigger Datum, trigger metadata) for a batch (``cardinality: many``)."""
    from azure.functions.meta import Datum

    texts = [] if binary else [_text(e.body) for e in events]
    if not binary and all(t is not None for t in texts):
        datum = Datum(Collection(string=[t for t in texts if t is not None]), "collection_string")
    else:
        datum = Datum(Collection(bytes=[e.body for e in events]), "collection_bytes")
    metadata = {
        "PartitionContext": _json(context.as_json()),
        # A null partition key is an empty string in the host's string collection (protobuf has no null items).
        "PartitionKeyArray": Datum(Collection(string=[e.partition_key or "" for e in events]), "collection_string"),
        "OffsetArray": Datum(Collection(string=[e.offset for e in events]), "collection_string"),
        "SequenceNumberArray": Datum(Collection(sint64=[e.sequence_number for e in events]), "collection_sint64"),
        "EnqueuedTimeUtcArray": _json([enqueued_text(e) for e in events]),
        "PropertiesArray": _json([dict(e.properties) for e in events]),
        "SystemPropertiesArray": _json([system_properties(e) for e in events]),
    }
    return datum, metadata


def binding_data(events: Sequence[StoredEvent], context: PartitionContext, single: bool) -> dict[str, Any]:
    """Values for ``{expressions}``: the metadata, plus the top-level properties of a single event's JSON body."""
    data: dict[str, Any] = {"PartitionContext": context.as_json()}
    if not single:
        data.update({
            "PartitionKeyArray": [e.partition_key for e in events], "OffsetArray": [e.offset for e in events],
            "SequenceNumberArray": [e.sequence_number for e in events],
            "EnqueuedTimeUtcArray": [e.enqueued_time for e in events],
            "PropertiesArray": [dict(e.properties) for e in events],
            "SystemPropertiesArray": [system_properties(e) for e in events],
        })
        return data
    event = events[0]
    data.update({
        "PartitionKey": event.partition_key, "Offset": event.offset, "SequenceNumber": event.sequence_number,
        "EnqueuedTimeUtc": event.enqueued_time, "Properties": dict(event.properties),
        "SystemProperties": system_properties(event),
    })
    text = _text(event.body)
    if text is None:
        return data
    from overcast.bindings.expressions import binding_data_from_json_body, merge_binding_data
    from overcast.errors import InputError

    try:
        return merge_binding_data(data, binding_data_from_json_body(text, "The event body"))
    except InputError:
        return data


def output_bodies(datum: Any) -> list[bytes]:
    """The event bodies an encoded ``eventHub`` output stands for: a list is one event per item."""
    if datum is None or datum.type is None:
        return []
    if datum.type == "string":
        return [datum.value.encode("utf-8")]
    if datum.type == "bytes":
        return [bytes(datum.value)]
    if datum.type in ("int", "double"):
        return [str(datum.value).encode("utf-8")]
    if datum.type == "json":
        parsed = json.loads(datum.value)
        items = parsed if isinstance(parsed, list) else [parsed]
        return [(item if isinstance(item, str) else json.dumps(item)).encode("utf-8") for item in items]
    raise TypeError(f"unsupported Event Hubs output of type {datum.type!r}")
