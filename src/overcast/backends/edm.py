"""Entity property types (EDM) as the Table service's JSON carries them, shared by every backend and the Table API.

Entities written through the Table API are stored in their wire form: plain JSON values, plus a
``<name>@odata.type`` annotation for the types JSON cannot carry (``Edm.Int64`` as a decimal string,
``Edm.DateTime`` as ISO text, ``Edm.Guid``, ``Edm.Binary`` as base64, ``Edm.Double`` for NaN, infinities and
whole numbers). Reads through the API then return what was written; the table bindings and ``$filter`` see values
converted here.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from overcast.errors import StoreError

ANNOTATION = "@odata.type"
EDM_TYPES = frozenset({
    "Edm.String", "Edm.Boolean", "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.DateTime", "Edm.Guid", "Edm.Binary",
})  # fmt: skip
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_DATETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,7}))?(Z|[+-]\d\d:\d\d)?")
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "INF": math.inf, "-INF": -math.inf}


def parse_datetime(text: str) -> datetime:
    """An ``Edm.DateTime`` text (up to 7 fraction digits, as .NET writes) as a tz-aware datetime."""
    m = _DATETIME.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"'{text}' is not an ISO 8601 date and time")
    fraction = f".{m[2][:6].ljust(6, '0')}" if m[2] else ""
    zone = "+00:00" if m[3] in ("Z", None) else m[3]
    return datetime.fromisoformat(m[1] + fraction + zone).astimezone(timezone.utc)


def _invalid(name: str, edm: str, value: Any, why: str = "") -> StoreError:
    return StoreError(f"Property '{name}' is not a valid {edm} value ({value!r}{why}).")


def typed_value(name: str, edm: str | None, value: Any) -> Any:
    """The Python value of a stored property: int, float, bool, str, datetime, uuid.UUID or bytes."""
    if edm is None or edm == "Edm.String" or value is None:
        return value
    try:
        if edm == "Edm.Int64":
            return int(value)
        if edm == "Edm.Double":
            return _SPECIAL_DOUBLES[value] if isinstance(value, str) and value in _SPECIAL_DOUBLES else float(value)
        if edm == "Edm.DateTime":
            return parse_datetime(str(value))
        if edm == "Edm.Guid":
            return uuid.UUID(str(value))
        if edm == "Edm.Binary":
            return base64.b64decode(str(value), validate=True)
        if edm == "Edm.Int32":
            return int(value)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _invalid(name, edm, value, f": {exc}") from None
    return value


def check_wire_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an entity's properties as sent to the Table API, with every annotation checked.

    Refuses (StoreError, the service's 400 InvalidInput) unknown types, annotations without a property, values that
    do not fit their type and nested objects or arrays, which the Table service cannot store.
    """
    checked: dict[str, Any] = {}
    for key, value in properties.items():
        if key.endswith(ANNOTATION):
            name = key[: -len(ANNOTATION)]
            if value not in EDM_TYPES:
                raise StoreError(f"Property '{name}' has the unknown type {value!r}; use one of {sorted(EDM_TYPES)}.")
            if name not in properties:
                raise StoreError(f"The type annotation '{key}' has no property '{name}'.")
        elif key.startswith("odata.") or "@" in key:
            continue  # the payload's own annotations (odata.metadata, odata.etag ...) are not properties
        elif isinstance(value, (dict, list)):
            raise StoreError(f"Property '{key}' is a JSON {type(value).__name__}; the Table service stores only "
                             "strings, numbers, booleans, dates, GUIDs and binary values.")
        else:
            edm = properties.get(key + ANNOTATION)
            typed = typed_value(key, edm, value)
            if edm == "Edm.Int64" and not _INT64[0] <= typed <= _INT64[1]:
                raise _invalid(key, "Edm.Int64", value)
            if edm == "Edm.Int32" and not _INT32[0] <= typed <= _INT32[1]:
                raise _invalid(key, "Edm.Int32", value)
        checked[key] = value
    return checked


def typed_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Stored properties with annotations applied and removed: what a ``$filter`` compares."""
    if not any(key.endswith(ANNOTATION) for key in properties):
        return dict(properties)
    return {key: typed_value(key, properties.get(key + ANNOTATION), value)
            for key, value in properties.items() if not key.endswith(ANNOTATION)}


def plain_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Stored properties as the table bindings hand them to a function: JSON values, annotations removed
    (``Edm.Int64`` as a number; dates, GUIDs and binary values stay text)."""
    plain: dict[str, Any] = {}
    for key, value in properties.items():
        if key.endswith(ANNOTATION):
            continue
        edm = properties.get(key + ANNOTATION)
        if edm == "Edm.Int64":
            value = int(value)
        elif edm == "Edm.Double" and not (isinstance(value, str) and value in _SPECIAL_DOUBLES):
            value = float(value)
        plain[key] = value
    return plain
