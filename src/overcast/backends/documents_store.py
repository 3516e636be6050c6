"""The documents store: Cosmos DB (NoSQL API) databases, containers and items, with a change feed.

Items are JSON objects with a string ``id``, unique within a logical partition (the value at the container's
partition key path). Every write stamps the system properties the service returns (``_rid``, ``_self``, ``_etag``,
``_ts``, ``_attachments``) and gives the item the container's next change sequence number: the change feed is the
items ordered by that number (latest-version mode: an update moves the item to the end, a delete removes it, so
intermediate versions are coalesced as Azure may). Each container has a few feed ranges (a stable hash of the
partition key picks one), which the change feed trigger leases out to instances, as Azure leases physical
partitions. The helpers here keep every backend's validation, stamping and errors identical.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from overcast.backends.changes import ChangeSource
from overcast.errors import DocumentConflict, DocumentInvalid, DocumentNotFound, DocumentPrecondition

Document = dict[str, Any]
WriteMode = Literal["create", "replace", "upsert"]
DEFAULT_PARTITION_KEY_PATH = "/id"
DEFAULT_FEED_RANGES = 4  # the change feed's ranges per container: leases spread over instances by range
MAX_FEED_RANGES = 64
SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_ts", "_attachments")
UNDEFINED_PARTITION = "{}"  # the stored key of an item without a value at the partition key path (never valid JSON
#                             of a partition key value, which is a string, number, boolean or null)
_FORBIDDEN = frozenset("/\\?#")
_MAX_NAME = 255


class _Undefined:
    """No value at the partition key path (Cosmos DB's ``PartitionKey.None``)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True)
class ContainerInfo:
    database: str
    name: str
    partition_key_path: str
    feed_ranges: int
    rid: str
    count: int = 0  # items now in the container
    sequence: int = 0  # the change sequence number of the latest write


@dataclass(frozen=True)
class FeedItem:
    """An item as the change feed gives it: its position (sequence), feed range and latest version."""

    sequence: int
    feed_range: int
    document: Document


class DocumentStore(ChangeSource, Protocol):
    """Databases, containers and items; every method is atomic and safe across threads (and processes, for
    backends whose data is shared). ``partition_key`` arguments are the partition key value (a string, number,
    boolean, None for JSON null, or :data:`UNDEFINED`). Its changes (:mod:`overcast.backends.changes`) are named
    ``<database>/<container>``: an item written (the container's change feed moved)."""

    def create_container(self, database: str, container: str,
                         partition_key_path: str = DEFAULT_PARTITION_KEY_PATH,
                         feed_ranges: int = DEFAULT_FEED_RANGES) -> ContainerInfo:
        """Create the database (if needed) and the container; an existing container is returned as it is."""
        ...

    def get_container(self, database: str, container: str) -> ContainerInfo | None: ...

    def list_containers(self) -> list[ContainerInfo]:
        """Every container, by database then name, with its item count and latest sequence."""
        ...

    def databases(self) -> list[str]:
        """Every database, sorted (also those without containers)."""
        ...

    def delete_container(self, database: str, container: str) -> bool:
        """Remove the container and its items; False when it did not exist."""
        ...

    def write(self, database: str, container: str, document: Mapping[str, Any], mode: WriteMode = "upsert",
              if_match: str | None = None) -> Document:
        """Create, replace or upsert an item; the stored item (with its system properties) is returned.

        ``create`` raises DocumentConflict when the id exists in the partition; ``replace`` DocumentNotFound when it
        does not; ``if_match`` (an ``_etag``) makes the write fail with DocumentPrecondition unless the stored item
        has that etag. A missing container raises DocumentNotFound; a bad item DocumentInvalid.
        """
        ...

    def read(self, database: str, container: str, item_id: str, partition_key: Any) -> Document | None: ...

    def delete(self, database: str, container: str, item_id: str, partition_key: Any,
               if_match: str | None = None) -> bool:
        """False when the item did not exist; DocumentPrecondition when ``if_match`` is not its etag."""
        ...

    def items(self, database: str, container: str, partition_key: Any = None, *, any_partition: bool = True,
              limit: int | None = None) -> list[Document]:
        """Items by (partition, id); with ``any_partition`` False only those of ``partition_key``."""
        ...

    def query(self, database: str, container: str, query: str, parameters: Mapping[str, Any] | None = None,
              partition_key: Any = None, *, any_partition: bool = True) -> list[Any]:
        """The results of a Cosmos DB SQL query (:mod:`overcast.backends.cosmos_sql`; ``parameters`` by name,
        ``@`` optional), over the container or one partition; QueryError for one outside the subset."""
        ...

    def read_feed(self, database: str, container: str, feed_range: int | None, after: int,
                  limit: int | None = None) -> list[FeedItem]:
        """Changes after sequence ``after`` in sequence order, of one feed range (None: all), at most ``limit``."""
        ...

    def sequence_before(self, database: str, container: str, since: float) -> int:
        """The feed position just before the first item changed at or after ``since`` (seconds since the epoch):
        a change feed read after it starts at that time (``startFromTime``)."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Shared validation and stamping (every backend uses these, so they refuse and stamp alike) -------------------


def validate_name(what: str, name: Any) -> str:
    """A database or container name as Cosmos DB accepts it."""
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME or name != name.rstrip() \
            or _FORBIDDEN & set(name):
        raise DocumentInvalid(
            f"The {what} name {name!r} is not valid: use 1-255 characters without '/', '\\', '?', '#' and without "
            f"a trailing space."
        )
    return name


def validate_partition_key_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or any(not part for part in path[1:].split("/")):
        raise DocumentInvalid(
            f"The partition key path {path!r} is not valid: it is a JSON path such as '/id' or '/address/city'."
        )
    return path


def validate_feed_ranges(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FEED_RANGES:
        raise DocumentInvalid(f"A container's feedRanges must be a whole number from 1 to {MAX_FEED_RANGES}, "
                              f"got {count!r}.")
    return count


def validate_id(item_id: Any, where: str) -> str:
    if not isinstance(item_id, str) or not item_id:
        raise DocumentInvalid(
            f"An item for {where} has no 'id' (or it is not a string): Cosmos DB needs a non-empty string id and "
            f"does not generate one (SDK v3 / extension 4.x). Set item['id'], e.g. str(uuid.uuid4())."
        )
    if len(item_id) > _MAX_NAME or _FORBIDDEN & set(item_id):
        raise DocumentInvalid(f"The id {item_id!r} for {where} is not valid: use up to 255 characters without "
                              f"'/', '\\', '?' or '#'.")
    return item_id


def partition_value(document: Mapping[str, Any], path: str) -> Any:
    """The value at a partition key path, or UNDEFINED."""
    value: Any = document
    for part in path[1:].split("/"):
        if not isinstance(value, Mapping) or part not in value:
            return UNDEFINED
        value = value[part]
    return value


def partition_text(value: Any, where: str) -> str:
    """The stored form of a partition key value (its compact JSON; UNDEFINED_PARTITION for none)."""
    if value is UNDEFINED:
        return UNDEFINED_PARTITION
    if value is None or isinstance(value, (str, bool, int, float)):
        return json.dumps(value, separators=(",", ":"))
    raise DocumentInvalid(f"The partition key value {value!r} of {where} is not valid: it must be a string, number, "
                          f"boolean or null.")


def feed_range_of(partition: str, ranges: int) -> int:
    """The feed range of a stored partition key (stable across processes and versions)."""
    return zlib.crc32(partition.encode("utf-8")) % ranges


def encode_item(database: str, container: str, document: Mapping[str, Any], path: str) -> tuple[str, str, Document]:
    """(id, partition key text, the item without system properties): what a write stores, validated."""
    where = f"container '{database}/{container}'"
    if not isinstance(document, Mapping):
        raise DocumentInvalid(f"An item for {where} must be a JSON object, got {type(document).__name__}.")
    item_id = validate_id(document.get("id"), where)
    body = {k: v for k, v in document.items() if k not in SYSTEM_PROPERTIES}
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise DocumentInvalid(f"The item {item_id!r} for {where} is not JSON ({exc}); use strings, numbers, "
                              f"booleans, null, lists and objects (dates as ISO strings).") from None
    return item_id, partition_text(partition_value(body, path), f"item {item_id!r}"), body


def new_database_rid() -> str:
    return base64.b64encode(secrets.token_bytes(4)).decode("ascii")


def new_container_rid(database_rid: str) -> str:
    return base64.b64encode(base64.b64decode(database_rid) + secrets.token_bytes(4)).decode("ascii")


def item_rid(container_rid: str, number: int) -> str:
    """An item's ``_rid``: its container's followed by a number unique in the container (as the service's)."""
    return base64.b64encode(base64.b64decode(container_rid) + struct.pack("<Q", number)).decode("ascii")


def new_document_etag() -> str:
    """Quoted, as the service's ``_etag`` (a new one on every write)."""
    return f'"{uuid.uuid4()}"'


def stamp(body: Mapping[str, Any], database_rid: str, container_rid: str, rid: str, etag: str, ts: float) -> Document:
    """The item as stored and returned: the user's properties and the system properties."""
    stamped = dict(body)
    stamped.update({"_rid": rid, "_self": f"dbs/{database_rid}/colls/{container_rid}/docs/{rid}/", "_etag": etag,
                    "_attachments": "attachments/", "_ts": int(ts)})
    return stamped


def check_write(database: str, container: str, item_id: str, mode: WriteMode, existing_etag: str | None,
                if_match: str | None) -> None:
    """Raise the service's error for a write that must not happen (nothing is written then)."""
    where = f"container '{database}/{container}'"
    if mode == "create" and existing_etag is not None:
        raise DocumentConflict(f"An item with id {item_id!r} already exists in its partition of {where}; upsert or "
                               f"replace it, or use a new id.")
    if mode == "replace" and existing_etag is None:
        raise DocumentNotFound(f"No item with id {item_id!r} exists in its partition of {where} to replace.")
    if if_match is not None and existing_etag != if_match:
        raise DocumentPrecondition(f"The item {item_id!r} in {where} changed since it was read (its _etag is no "
                                   f"longer {if_match}); read it again and retry.")


def check_delete(database: str, container: str, item_id: str, existing_etag: str | None,
                 if_match: str | None) -> None:
    if if_match is not None and existing_etag is not None and existing_etag != if_match:
        raise DocumentPrecondition(f"The item {item_id!r} in container '{database}/{container}' changed since it "
                                   f"was read (its _etag is no longer {if_match}); read it again and retry.")


def missing_container(database: str, container: str) -> DocumentNotFound:
    return DocumentNotFound(
        f"The container '{container}' of database '{database}' does not exist: declare it in cosmosdb.json, set "
        f"create_if_not_exists=True on an output binding, or create it with `overcast cosmos put`."
    )
