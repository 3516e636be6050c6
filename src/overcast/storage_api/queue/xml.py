"""The Queue service's XML: the message a client puts, and the listings and message lists it gets back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

from overcast.backends.queue_service_store import Message, QueueInfo
from overcast.errors import StorageApiError

XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def http_date(moment: datetime) -> str:
    """RFC 1123 (``Wed, 01 May 2024 12:00:00 GMT``), as the service writes message times."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def element(name: str, value: object) -> str:
    text = "" if value is None else str(value)
    return f"<{name}>{escape(text)}</{name}>" if text else f"<{name} />"


def invalid_xml() -> StorageApiError:
    return StorageApiError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")


def message_text(body: bytes) -> bytes:
    """The ``MessageText`` of a put or update body (``<QueueMessage><MessageText>…``), as the UTF-8 the queue holds."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise invalid_xml() from None
    text = root.find("MessageText") if root.tag == "QueueMessage" else None
    if text is None:
        raise invalid_xml()
    return (text.text or "").encode("utf-8")


def _text(body: bytes) -> str:
    # The queue holds what the client sent as text; a body an output binding wrote as raw bytes is shown decoded
    # with replacement, as no XML can carry other bytes.
    return body.decode("utf-8", "replace")


def messages_xml(messages: Iterable[Message], *, peek: bool = False, with_text: bool = True) -> bytes:
    """A ``QueueMessagesList``: what put (no text, no count), get and peek (no receipt, no next-visible) return."""
    parts = [XML_HEAD, "<QueueMessagesList>"]
    for m in messages:
        parts += ["<QueueMessage>", element("MessageId", m.id), element("InsertionTime", http_date(m.insertion_time)),
                  element("ExpirationTime", http_date(m.expiration_time))]
        if not peek:
            parts += [element("PopReceipt", m.pop_receipt), element("TimeNextVisible", http_date(m.next_visible))]
        if with_text:
            parts += [element("DequeueCount", m.dequeue_count), f"<MessageText>{escape(_text(m.body))}</MessageText>"]
        parts.append("</QueueMessage>")
    parts.append("</QueueMessagesList>")
    return "".join(parts).encode("utf-8")


def metadata_xml(metadata: Mapping[str, str]) -> str:
    return "<Metadata>" + "".join(element(k, v) for k, v in metadata.items()) + "</Metadata>"


def queue_list_xml(endpoint: str, prefix: str, marker: str, max_results: int | None, queues: Iterable[QueueInfo],
                   next_marker: str, with_metadata: bool) -> bytes:
    parts = [XML_HEAD, f'<EnumerationResults ServiceEndpoint="{escape(endpoint)}">']
    if prefix:
        parts.append(element("Prefix", prefix))
    if marker:
        parts.append(element("Marker", marker))
    if max_results is not None:
        parts.append(element("MaxResults", max_results))
    parts.append("<Queues>")
    for queue in queues:
        parts += ["<Queue>", element("Name", queue.name)]
        if with_metadata:
            parts.append(metadata_xml(queue.metadata))
        parts.append("</Queue>")
    parts += ["</Queues>", element("NextMarker", next_marker), "</EnumerationResults>"]
    return "".join(parts).encode("utf-8")


def service_properties_xml() -> bytes:
    """The service properties of an account that never set any: logging and metrics off, no CORS rules."""
    off = "<Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
    return (f"{XML_HEAD}<StorageServiceProperties><Logging><Version>1.0</Version><Read>false</Read>"
            f"<Write>false</Write><Delete>false</Delete><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
            f"</Logging><HourMetrics>{off}</HourMetrics><MinuteMetrics>{off}</MinuteMetrics><Cors />"
            f"</StorageServiceProperties>").encode()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
