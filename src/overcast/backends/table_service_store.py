"""The Table service store: what the Table REST API needs beyond the table store the bindings use.

A :class:`TableServiceStore` works on the very entities the table bindings read and write (each backend implements
it on its table store), with tables as objects of their own (created, listed, deleted), entities with ETags,
conditional writes (insert, replace, merge, their insert-or-* forms, delete) applied all-or-nothing as an entity
group transaction, and queries that continue page after page. (This module imports nothing of ``backends.base``,
which names it.)

Entities are stored in the wire form of :mod:`overcast.backends.edm`. An ETag is derived from the entity's
timestamp, which every write moves forward by at least a microsecond, so each write gives a new ETag even on a
clock that stands still.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import quote

from overcast.backends.names import validate_entity_keys
from overcast.errors import StoreError

MAX_PAGE = 1000  # Azure returns at most 1,000 entities per query response


class WriteKind(enum.Enum):
    INSERT = "insert"  # fails when the entity exists
    REPLACE = "replace"  # fails unless the entity exists (and matches if_match)
    MERGE = "merge"  # as REPLACE, but keeps properties the write does not name
    UPSERT_REPLACE = "insert or replace"
    UPSERT_MERGE = "insert or merge"
    DELETE = "delete"  # fails unless the entity exists (and matches if_match)


class TableProblem(enum.Enum):
    """Why a table operation failed: the service's error codes."""

    TABLE_NOT_FOUND = "TableNotFound"
    ENTITY_NOT_FOUND = "ResourceNotFound"
    ENTITY_EXISTS = "EntityAlreadyExists"
    CONDITION_NOT_MET = "UpdateConditionNotSatisfied"


@dataclass(frozen=True)
class EntityOp:
    kind: WriteKind
    partition_key: str
    row_key: str
    properties: Mapping[str, Any] = field(default_factory=dict)  # wire form, without the keys and Timestamp
    if_match: str | None = None  # an ETag, or "*"; None: unconditional (REPLACE, MERGE, DELETE then need "*")


@dataclass(frozen=True)
class StoredEntity:
    partition_key: str
    row_key: str
    properties: Mapping[str, Any]  # wire form, without the keys and Timestamp
    timestamp: float

    @property
    def etag(self) -> str:
        return etag_of(self.timestamp)


@dataclass(frozen=True)
class OpFailure:
    """An operation of a write (the ``index``-th) failed; nothing of the write was applied."""

    index: int
    problem: TableProblem


EntityFilter = Callable[[StoredEntity], bool]


def iso_timestamp(timestamp: float) -> str:
    """``2024-05-01T12:00:00.1234560Z``: an entity's Timestamp as the service writes it (7 fraction digits)."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def etag_of(timestamp: float) -> str:
    """The ETag the Table service gives an entity last written at ``timestamp``."""
    return "W/\"datetime'" + quote(iso_timestamp(timestamp), safe="") + "'\""


def next_timestamp(now: float, previous: float | None) -> float:
    """A write's timestamp, whole microseconds, later than the entity's previous one (so its ETag changes)."""
    micros = round(now * 1_000_000)
    if previous is not None:
        micros = max(micros, round(previous * 1_000_000) + 1)
    return micros / 1_000_000


def encode_properties(op: EntityOp, table: str) -> str:
    validate_entity_keys(table, op.partition_key, op.row_key)
    try:
        return json.dumps(dict(op.properties), separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise StoreError(f"Entity ({op.partition_key!r}, {op.row_key!r}) for table '{table}': {exc}.") from None


def decide(op: EntityOp, existing: StoredEntity | None) -> TableProblem | None:
    """Whether ``op`` may apply to the entity as it is (None: it may)."""
    if op.kind is WriteKind.INSERT:
        return TableProblem.ENTITY_EXISTS if existing is not None else None
    if op.kind in (WriteKind.UPSERT_REPLACE, WriteKind.UPSERT_MERGE) and op.if_match is None:
        return None
    if existing is None:
        return TableProblem.ENTITY_NOT_FOUND
    if op.if_match not in (None, "*") and op.if_match != existing.etag:
        return TableProblem.CONDITION_NOT_MET
    return None


def merged(op: EntityOp, existing: StoredEntity | None) -> dict[str, Any]:
    """The properties an applied ``op`` leaves (a merge keeps what it does not name, with its annotation)."""
    if op.kind in (WriteKind.MERGE, WriteKind.UPSERT_MERGE) and existing is not None:
        out = dict(existing.properties)
        for key in op.properties:
            if not key.endswith("@odata.type"):
                out.pop(key + "@odata.type", None)  # a merged value brings its own type (or none)
        out.update(op.properties)
        return out
    return dict(op.properties)


class TableServiceStore(Protocol):
    """Tables and entities as the Table service sees them. Safe across threads and processes."""

    def create_table(self, table: str) -> bool:
        """Create the table (its name keeps this case); False when a table of that name (any case) exists."""
        ...

    def delete_table(self, table: str) -> bool:
        """Delete the table and its entities; False when it did not exist."""
        ...

    def list_tables(self) -> list[str]:
        """Every table by name (tables made by a binding's write included, lower-cased)."""
        ...

    def query_entities(self, table: str, accept: EntityFilter | None, start: tuple[str, str] | None,
                       take: int) -> tuple[list[StoredEntity], tuple[str, str] | None] | None:
        """Up to ``take`` (1-1000) entities in key order from ``start`` (inclusive) that ``accept`` keeps, and the
        keys to continue from (None: no more); None when the table does not exist."""
        ...

    def get_entity(self, table: str, partition_key: str, row_key: str) -> StoredEntity | TableProblem:
        """The entity; TABLE_NOT_FOUND or ENTITY_NOT_FOUND when there is none."""
        ...

    def write_entities(self, table: str, ops: Sequence[EntityOp]) -> list[StoredEntity | None] | OpFailure:
        """Apply every op or none (one transaction): each op's entity as written (None for a delete), or the first
        op that failed. A missing table fails op 0 with TABLE_NOT_FOUND."""
        ...

    def close(self) -> None: ...
