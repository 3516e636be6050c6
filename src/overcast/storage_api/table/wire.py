"""The Table service's JSON: entities in and out at the three metadata levels, key paths, queries and paging.

Entities are written and read in their wire form (:mod:`overcast.backends.edm`): what a client sends is what it
gets back, type annotations included; ``nometadata`` drops the annotations and ``fullmetadata`` adds the ids and
links, as the service does. ``$filter`` is the OData subset of :mod:`overcast.bindings.odata`, evaluated on typed
values (an ``Edm.Int64`` compares as a number, an ``Edm.DateTime`` as a date).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from overcast.backends.edm import ANNOTATION, check_wire_properties, parse_datetime, typed_properties
from overcast.backends.table_service_store import StoredEntity, iso_timestamp
from overcast.bindings.odata import compile_filter
from overcast.errors import OvercastError, StorageApiError, StoreError
from overcast.storage_api.errors import error

Level = Literal["nometadata", "minimalmetadata", "fullmetadata"]
JSON_TYPES = {
    "nometadata": "application/json;odata=nometadata;streaming=true;charset=utf-8",
    "minimalmetadata": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8",
    "fullmetadata": "application/json;odata=fullmetadata;streaming=true;charset=utf-8",
}
MAX_ENTITY_BYTES = 1024 * 1024
MAX_PROPERTIES = 252  # besides PartitionKey, RowKey and Timestamp
_SYSTEM = ("PartitionKey", "RowKey", "Timestamp")
_KEYS = re.compile(r"PartitionKey='(?P<pk>(?:[^']|'')*)',\s*RowKey='(?P<rk>(?:[^']|'')*)'")
_RESOURCE = re.compile(r"(?P<name>[^()]+)(?:\((?P<keys>.*)\))?", re.S)


def level_of(accept: str | None, format_param: str | None) -> Level:
    """The metadata level asked for by ``$format`` or ``Accept`` (minimal when neither names one)."""
    for text in (format_param or "", accept or ""):
        for level in ("nometadata", "fullmetadata", "minimalmetadata"):
            if f"odata={level}" in text or text == f"application/json;odata={level}":
                return level
    return "minimalmetadata"


def invalid_input(detail: str = "") -> StorageApiError:
    message = "One of the request inputs is not valid."
    return error(400, "InvalidInput", message + (f" {detail}" if detail else ""))


def split_resource(path: str) -> tuple[str, str | None]:
    """``mytable(PartitionKey='a',RowKey='b')`` -> (``mytable``, the text in parentheses or None)."""
    match = _RESOURCE.fullmatch(path)
    if match is None:
        raise error(400, "InvalidUri", "The requested URI does not represent any resource on the server.")
    return match["name"], match["keys"]


def entity_keys(text: str) -> tuple[str, str]:
    match = _KEYS.fullmatch(text.strip())
    if match is None:
        raise error(400, "InvalidUri", "The requested URI does not represent any resource on the server: address "
                    "an entity as table(PartitionKey='pk',RowKey='rk').")
    return match["pk"].replace("''", "'"), match["rk"].replace("''", "'")


def quoted_keys(partition_key: str, row_key: str) -> str:
    pk, rk = partition_key.replace("'", "''"), row_key.replace("'", "''")
    return f"PartitionKey='{pk}',RowKey='{rk}'"


def read_entity(body: bytes) -> tuple[str | None, str | None, dict[str, Any]]:
    """(PartitionKey, RowKey, the other properties checked) of a request body; 400 InvalidInput when it is not
    an entity the service would take."""
    if len(body) > MAX_ENTITY_BYTES:
        raise error(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                    "limit.")
    try:
        value = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid_input("The body is not JSON.") from None
    if not isinstance(value, dict):
        raise invalid_input("The body must be a JSON object.")
    pk, rk = value.get("PartitionKey"), value.get("RowKey")
    for name, key in (("PartitionKey", pk), ("RowKey", rk)):
        if key is not None and not isinstance(key, str):
            raise invalid_input(f"{name} must be a string.")
    properties = {k: v for k, v in value.items() if k not in _SYSTEM and not k.startswith(_SYSTEM_ANNOTATIONS)}
    try:
        checked = check_wire_properties(properties)
    except StoreError as exc:
        raise invalid_input(str(exc)) from exc
    if sum(1 for k in checked if not k.endswith(ANNOTATION)) > MAX_PROPERTIES:
        raise error(400, "TooManyProperties", "The entity contains more properties than allowed.")
    return pk, rk, checked


_SYSTEM_ANNOTATIONS = tuple(f"{name}@" for name in _SYSTEM)


def entity_json(entity: StoredEntity, level: Level, table: str, base: str,
                select: list[str] | None = None) -> dict[str, Any]:
    """The JSON of one entity as a query or a read returns it (``base``: the account URL with a trailing slash)."""
    out: dict[str, Any] = {}
    keys = quoted_keys(entity.partition_key, entity.row_key)
    if level == "fullmetadata":
        account = base.rstrip("/").rpartition("/")[2]
        out["odata.type"] = f"{account}.{table}"
        out["odata.id"] = f"{base}{table}({keys})"
    if level != "nometadata":
        out["odata.etag"] = entity.etag
    if level == "fullmetadata":
        out["odata.editLink"] = f"{table}({keys})"
    props: dict[str, Any] = {"PartitionKey": entity.partition_key, "RowKey": entity.row_key}
    if level != "nometadata":
        props["Timestamp@odata.type"] = "Edm.DateTime"
    props["Timestamp"] = iso_timestamp(entity.timestamp)
    props.update(entity.properties)
    if select is not None:
        chosen: dict[str, Any] = {}
        for name in select:
            chosen[name] = props.get(name)
            if (name + ANNOTATION) in props:
                chosen[name + ANNOTATION] = props[name + ANNOTATION]
        props = chosen
    if level == "nometadata":
        props = {k: v for k, v in props.items() if not k.endswith(ANNOTATION)}
    out.update(props)
    return out


def select_of(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    return None if not names or "*" in names else names


def entity_filter(text: str | None) -> Callable[[StoredEntity], bool] | None:
    """A predicate over stored entities for ``$filter`` (None: keep all); 400 InvalidInput when it is not valid."""
    if not text:
        return None
    try:
        predicate = compile_filter(text)
    except OvercastError as exc:
        raise invalid_input(str(exc)) from exc

    def accept(entity: StoredEntity) -> bool:
        values = typed_properties(entity.properties)
        values["PartitionKey"] = entity.partition_key
        values["RowKey"] = entity.row_key
        values["Timestamp"] = parse_datetime(iso_timestamp(entity.timestamp))
        return predicate(values)

    return accept


def names_filter(text: str | None) -> Callable[[str], bool] | None:
    """``$filter`` of a tables query (on ``TableName``)."""
    if not text:
        return None
    try:
        predicate = compile_filter(text)
    except OvercastError as exc:
        raise invalid_input(str(exc)) from exc
    return lambda name: predicate({"TableName": name})


def top_of(text: str | None, most: int = 1000) -> int:
    if text is None or text == "":
        return most
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise invalid_input(f"$top must be 1-{most}.")
    return int(text)


def encode_token(value: str) -> str:
    """A continuation value as an opaque header-safe token (keys may hold any Unicode)."""
    return "1!" + base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")


def decode_token(token: str, name: str) -> str:
    if not token.startswith("1!"):
        raise invalid_input(f"{name} is not a continuation token this service gave.")
    try:
        return base64.urlsafe_b64decode(token[2:].encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_input(f"{name} is not a continuation token this service gave.") from None


def dumps(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
