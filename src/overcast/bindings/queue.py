"""Queue messages ↔ the Datums of the library's queue converters, and the host's message encoding (§6.1)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from overcast.backends.base import QueuedMessage
from overcast.errors import UndecodableMessage


def encode_body(body: bytes, encoding: str) -> bytes:
    """What is stored in the queue for a message body (base64 text by default, as the host writes it)."""
    return base64.b64encode(body) if encoding == "base64" else body


def decode_body(stored: bytes, encoding: str) -> bytes:
    if encoding != "base64":
        return stored
    try:
        return base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        raise UndecodableMessage("Message decoding has failed! Check MessageEncoding settings.") from None


def _iso(value: Any) -> str:
    # Azure Storage reports message times to the second; the library also parses that form twice as fast.
    return json.dumps(value.replace(microsecond=0).isoformat())


def trigger_datum(message: QueuedMessage, body: bytes) -> tuple[Any, dict[str, Any]]:
    """(trigger Datum, trigger metadata) for a received message; non-scalar metadata is JSON, as the host sends it."""
    from azure.functions.meta import Datum

    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    metadata: dict[str, Any] = {
        "Id": Datum(message.id, "string"),
        "DequeueCount": Datum(str(message.dequeue_count), "json"),
        "InsertionTime": Datum(_iso(message.insertion_time), "json"),
        "ExpirationTime": Datum(_iso(message.expiration_time), "json"),
        "NextVisibleTime": Datum(_iso(message.next_visible), "json"),
    }
    if message.pop_receipt is not None:
        metadata["PopReceipt"] = Datum(message.pop_receipt, "string")
    if text is not None:
        metadata["QueueTrigger"] = Datum(text, "string")
    return (Datum(text, "string") if text is not None else Datum(body, "bytes")), metadata


def binding_data(message: QueuedMessage, body: bytes) -> dict[str, Any]:
    """Binding data for ``{expressions}``: metadata plus the top-level properties of a JSON object body."""
    data: dict[str, Any] = {
        "Id": message.id,
        "DequeueCount": message.dequeue_count,
        "InsertionTime": message.insertion_time,
        "ExpirationTime": message.expiration_time,
        "NextVisibleTime": message.next_visible,
        "PopReceipt": message.pop_receipt,
    }
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return data
    data["QueueTrigger"] = text
    from overcast.bindings.expressions import binding_data_from_json_body, merge_binding_data

    # As in the host, top-level properties of a JSON body override the metadata of the same name.
    return merge_binding_data(data, binding_data_from_json_body(text, "The message body"))


def output_bodies(datum: Any) -> list[bytes]:
    """The message bodies an encoded queue output stands for (a list output is several messages)."""
    if datum is None or datum.type is None:
        return []
    if datum.type == "string":
        return [datum.value.encode("utf-8")]
    if datum.type == "bytes":
        return [bytes(datum.value)]
    if datum.type == "json":
        parsed = json.loads(datum.value)
        items = parsed if isinstance(parsed, list) else [parsed]
        bodies = []
        for item in items:
            if isinstance(item, dict) and "body" in item:
                item = item["body"]
            bodies.append((item if isinstance(item, str) else json.dumps(item)).encode("utf-8"))
        return bodies
    raise TypeError(f"unsupported queue output of type {datum.type!r}")
