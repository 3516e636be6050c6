"""Writing the Blob service's XML replies (listings, block lists, ACLs) and its header formats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def http_date(moment: datetime | float) -> str:
    """RFC 1123 (``Wed, 01 May 2024 12:00:00 GMT``), as Last-Modified and listings write times."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def element(name: str, value: object) -> str:
    """``<name>value</name>``; an empty value gives ``<name />`` as Azure writes empty elements."""
    text = "" if value is None else str(value)
    return f"<{name}>{escape(text)}</{name}>" if text else f"<{name} />"


def elements(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(element(name, value) for name, value in pairs)


def metadata_xml(metadata: Mapping[str, str]) -> str:
    return "<Metadata>" + "".join(element(k, v) for k, v in metadata.items()) + "</Metadata>"
