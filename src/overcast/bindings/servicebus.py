"""Service Bus messages ↔ the Datums of the library's ``serviceBusTrigger`` / ``serviceBus`` converters (§6.5).

One message: the body as a ``string`` Datum (``bytes`` when it is not UTF-8) and the trigger metadata the
extension sends, by name (``MessageId``, ``DeliveryCount``, ``UserProperties``, ...; times and numbers JSON-encoded,
as the host sends non-string scalars). ``cardinality: many``: a ``collection_string`` / ``collection_bytes`` Datum
and the same names with ``Array`` appended, each a JSON array. The library's converter turns these into
``func.ServiceBusMessage`` objects. Binding data for ``{expressions}``: the metadata, plus the top-level properties
of a JSON object body (they win on a name clash, as in the host).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from overcast.backends.servicebus_store import BusMessage, OutgoingMessage
from overcast.bindings.expressions import binding_data_from_json_body, merge_binding_data

# DateTime.MaxValue: ExpiresAtUtc of a message that never expires.
NEVER = "9999-12-31T23:59:59.999999+00:00"


def _iso(seconds: float | None) -> str:
    """``2024-05-01T12:00:00.123456+00:00``: the library tries its formats in order and reaches this one third (with
    ``Z`` it is sixth): 90 µs a time instead of 450, three times per message."""
    if seconds is None:
        return NEVER
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="microseconds")


def _timespan(seconds: float | None) -> str | None:
    """TimeToLive as ``HH:MM:SS`` (the library parses no longer form; omitted from a day up, or when unset)."""
    if seconds is None or seconds >= 86400:
        return None
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def metadata_values(received: BusMessage) -> dict[str, Any]:
    """The trigger metadata of one message as Python values (names as the extension and the library use them)."""
    message = received.message
    props = dict(message.application_properties)
    values: dict[str, Any] = {
        "DeliveryCount": received.delivery_count, "DeadLetterSource": received.dead_letter_source,
        "LockToken": received.lock_token or "", "ExpiresAtUtc": _iso(received.expires_at),
        "ExpiresAt": _iso(received.expires_at), "EnqueuedTimeUtc": _iso(received.enqueued_time),
        "EnqueuedTime": _iso(received.enqueued_time), "MessageId": message.message_id,
        "ContentType": message.content_type, "ReplyTo": message.reply_to,
        "SequenceNumber": received.sequence_number, "EnqueuedSequenceNumber": received.sequence_number,
        "To": message.to, "Label": message.subject, "Subject": message.subject,
        "CorrelationId": message.correlation_id, "SessionId": message.session_id,
        "ReplyToSessionId": message.reply_to_session_id, "PartitionKey": message.partition_key,
        "TransactionPartitionKey": message.partition_key, "DeadLetterReason": received.dead_letter_reason,
        "DeadLetterErrorDescription": received.dead_letter_description,
        "LockedUntil": _iso(received.locked_until) if received.locked_until is not None else None,
        "ScheduledEnqueueTimeUtc": (_iso(message.scheduled_enqueue_time)
                                    if message.scheduled_enqueue_time is not None else None),
        "TimeToLive": _timespan(message.time_to_live), "State": 2 if received.state == "deadlettered" else 0,
        "ApplicationProperties": props, "UserProperties": props,
    }
    return values


def _datum(value: Any) -> Any:
    from azure.functions.meta import Datum

    if isinstance(value, str):
        return Datum(value, "string")
    if isinstance(value, int):
        return Datum(str(value), "json")
    return Datum(json.dumps(value), "json")


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def message_datums(received: BusMessage) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(trigger Datum, trigger metadata, binding data) of one message, its metadata computed once."""
    from azure.functions.meta import Datum

    values = {k: v for k, v in metadata_values(received).items() if v is not None}
    metadata = {k: _datum(v) for k, v in values.items()}
    text = _text(received.body)
    if text is None:
        return Datum(received.body, "bytes"), metadata, values
    return Datum(text, "string"), metadata, merge_binding_data(
        values, binding_data_from_json_body(text, "The message body"))


def trigger_datum(received: BusMessage) -> tuple[Any, dict[str, Any]]:
    """(trigger Datum, trigger metadata) of one message."""
    datum, metadata, _ = message_datums(received)
    return datum, metadata


@dataclass(frozen=True)
class _Collection:
    """What the worker's collection Datums hold (``.string`` / ``.bytes``, as its protobuf value)."""

    string: list[str]
    bytes: list[bytes]


def batch_datum(messages: Sequence[BusMessage]) -> tuple[Any, dict[str, Any]]:
    """(trigger Datum, trigger metadata) of a batch (``cardinality: many``)."""
    from azure.functions.meta import Datum

    texts = [_text(m.body) for m in messages]
    if all(t is not None for t in texts):
        datum = Datum(_Collection([str(t) for t in texts], []), "collection_string")
    else:
        datum = Datum(_Collection([], [m.body for m in messages]), "collection_bytes")
    rows = [metadata_values(m) for m in messages]
    metadata = {f"{name}Array": Datum(json.dumps([row[name] for row in rows]), "json") for name in rows[0]}
    return datum, metadata


def binding_data(received: BusMessage) -> dict[str, Any]:
    return message_datums(received)[2]


def outgoing(datum: Any) -> list[OutgoingMessage]:
    """The messages an encoded ``serviceBus`` output stands for (a JSON list is one message per item)."""
    if datum is None or datum.type is None:
        return []
    if datum.type == "string":
        return [OutgoingMessage(datum.value.encode("utf-8"))]
    if datum.type == "bytes":
        return [OutgoingMessage(bytes(datum.value))]
    if datum.type == "json":
        parsed = json.loads(datum.value)
        items = parsed if isinstance(parsed, list) else [parsed]
        return [OutgoingMessage((item if isinstance(item, str) else json.dumps(item)).encode("utf-8"),
                                content_type=None if isinstance(item, str) else "application/json")
                for item in items]
    raise TypeError(f"unsupported Service Bus output of type {datum.type!r}")
