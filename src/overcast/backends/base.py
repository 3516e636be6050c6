"""The storage seam: every backend (memory, SQLite, later PostgreSQL) offers these few operations.

State values are strings so that a backend never has to guess a serialisation; callers store JSON when they need
structure. Queues, blobs, tables and leases follow Azure Storage semantics. Every store takes times from an injectable
``clock`` (seconds since the epoch) so tests move time without sleeping; the small helpers here keep the backends'
conversions (datetimes, ETags, entity JSON) identical.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# The blob store's protocol and values, re-exported from their own module (see overcast.backends.blob_store).
from overcast.backends.blob_store import BlobProperties as BlobProperties
from overcast.backends.blob_store import BlobStore as BlobStore
from overcast.backends.blob_store import blob_properties as blob_properties
from overcast.backends.blob_store import new_etag as new_etag
from overcast.backends.changes import ChangeSource
from overcast.backends.edm import plain_properties
from overcast.backends.names import validate_entity_key
from overcast.errors import StoreError

if TYPE_CHECKING:
    from overcast.backends.blob_api_store import BlobApiStore
    from overcast.backends.documents_store import DocumentStore
    from overcast.backends.eventgrid_store import EventGridStore
    from overcast.backends.eventhubs_store import EventHubsStore
    from overcast.backends.queue_service_store import QueueServiceStore
    from overcast.backends.servicebus_store import ServiceBusBackend
    from overcast.backends.table_service_store import TableServiceStore
    from overcast.durable.store import DurableStore

Clock = Callable[[], float]  # seconds since the epoch; every store takes one (default time.time) so tests move time


class StateStore(Protocol):
    """A small, shared key/value store. Every method is safe to call from several threads and processes."""

    def get(self, key: str) -> str | None:
        """The stored value, or None when the key is absent."""
        ...

    def put(self, key: str, value: str) -> None:
        """Insert or overwrite."""
        ...

    def put_if_absent(self, key: str, value: str) -> str:
        """Insert unless the key exists, atomically; return the value stored now (ours or the earlier one).

        Two instances that generate a secret at the same time both call this and both keep the winner's value.
        """
        ...

    def delete(self, key: str) -> bool:
        """Remove the key; False when it was not there."""
        ...

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Every key starting with ``prefix`` (a literal prefix, never a pattern) with its value."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Queues ------------------------------------------------------------------------------------------------------

DEFAULT_TTL = 7 * 24 * 3600.0  # Azure's default message time-to-live
NEVER_EXPIRES = 253402300799.0  # 9999-12-31T23:59:59Z: what Azure reports for a ttl of -1
MAX_RECEIVE = 32  # Azure's limit on messages per receive


def utc(seconds: float) -> datetime:
    """A clock reading (seconds since the epoch) as the tz-aware UTC datetime the stores return."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def iso_utc(seconds: float) -> str:
    """``2024-05-01T12:00:00.123456Z``: the ISO form of table timestamps."""
    return utc(seconds).isoformat(timespec="microseconds").replace("+00:00", "Z")


def expiry(now: float, ttl: float | None) -> float:
    return NEVER_EXPIRES if ttl == -1 else now + (DEFAULT_TTL if ttl is None else ttl)


def new_message_id() -> str:
    return str(uuid.uuid4())


def new_pop_receipt() -> str:
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class QueuedMessage:
    """A queue message as stored (the body is what the queue holds: base64 text with the default encoding)."""

    id: str
    body: bytes
    dequeue_count: int
    insertion_time: datetime
    expiration_time: datetime
    next_visible: datetime
    pop_receipt: str | None  # None for peeked messages


class QueueStore(Protocol):
    """Azure Storage queue semantics: visibility timeouts, pop receipts, dequeue counts; safe across processes.

    Queue names must be valid Azure queue names (lower-case; see :mod:`overcast.backends.names`).
    """

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        """Add a message (creating the queue), visible after ``delay`` s; ``ttl`` default 7 days, -1 never expires.

        The returned message carries a pop receipt that deletes or updates it until someone receives it (as Azure).
        A ``body`` over 64 KiB (as stored, i.e. after base64) raises :class:`PayloadTooLargeError`, as Azure refuses it.
        """
        ...

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        """Claim up to ``max_messages`` (1-32) visible messages atomically: in the order they became visible, then
        of insertion. Each gets ``dequeue_count + 1``, a new pop receipt, and stays hidden ``visibility_timeout`` s.
        Expired messages are dropped; a missing queue gives []."""
        ...

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        """Delete a claimed message; False when the receipt is stale (the message was received again or is gone)."""
        ...

    def delete_many(self, queue: str, claimed: Sequence[tuple[str, str]]) -> list[bool]:
        """``delete`` for each ``(message_id, pop_receipt)``, in one transaction: a listener settles the messages that
        finished together with one write instead of one each."""
        ...

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        """Make the message visible ``visibility_timeout`` s from now (0: at once); the new receipt, None if stale."""
        ...

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        """Poison handling in one transaction: copy the body to ``to_queue`` (created if missing; fresh id,
        dequeue count 0, default ttl) and delete the original. False (nothing changes) when the receipt is stale."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


class QueueAdmin(Protocol):
    """What the CLI and admin tools need besides the runtime operations."""

    def list_queues(self) -> dict[str, int]:
        """Every queue (also empty ones) with its approximate count of unexpired messages."""
        ...

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        """Up to ``max_messages`` visible messages in receive order, without claiming them (no pop receipt)."""
        ...

    def clear(self, queue: str) -> int:
        """Delete every message (visible or not); how many unexpired ones there were. The queue stays."""
        ...

    def delete_queue(self, queue: str) -> bool:
        """Delete the queue and its messages; False when it did not exist."""
        ...


class QueueBackend(QueueStore, QueueAdmin, ChangeSource, Protocol):
    """A queue store with its admin operations: what every backend implements and ``open_queue_store`` returns.
    Its changes (:mod:`overcast.backends.changes`) are named by queue: a message added or made visible again."""


# -- Blobs (in overcast.backends.blob_store, re-exported here) ------------------------------------------

# -- Tables ------------------------------------------------------------------------------------------------------

Entity = dict[str, Any]
EntityPredicate = Callable[[Mapping[str, Any]], bool]
_SYSTEM_PROPERTIES = ("PartitionKey", "RowKey", "Timestamp")


def encode_entity(table: str, entity: Mapping[str, Any]) -> tuple[str, str, str]:
    """(PartitionKey, RowKey, JSON of the other properties): the one form every backend stores.

    A ``Timestamp`` given by the caller is ignored: the store sets it on every write, as Azure does.
    """
    partition_key = validate_entity_key("PartitionKey", entity.get("PartitionKey"), table)
    row_key = validate_entity_key("RowKey", entity.get("RowKey"), table)
    properties = {k: v for k, v in entity.items() if k not in _SYSTEM_PROPERTIES}
    for key in properties:
        if not isinstance(key, str):
            raise StoreError(f"Entity for table '{table}': property name {key!r} must be a string.")
    try:
        # ASCII JSON: lone surrogates (valid in Python strings) then survive every backend's text column.
        text = json.dumps(properties, separators=(",", ":"))
    except RecursionError:
        raise StoreError(
            f"Entity ({partition_key!r}, {row_key!r}) for table '{table}' cannot be stored: a property is nested too "
            "deeply; store deep structures as a JSON string or in a blob."
        ) from None
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"Entity ({partition_key!r}, {row_key!r}) for table '{table}' cannot be stored: {exc}; use strings, "
            f"numbers, booleans (dates as ISO strings)."
        ) from exc
    return partition_key, row_key, text


def decode_entity(partition_key: str, row_key: str, properties: str, timestamp: float) -> Entity:
    entity: Entity = {"PartitionKey": partition_key, "RowKey": row_key, "Timestamp": iso_utc(timestamp)}
    stored = json.loads(properties)
    # Entities written through the Table API carry type annotations; the bindings hand functions plain JSON.
    entity.update(plain_properties(stored) if "@odata.type" in properties else stored)
    return entity


class TableStore(Protocol):
    """Azure Tables: entities keyed by (PartitionKey, RowKey) within a table; table names ignore case."""

    def insert(self, table: str, entity: Mapping[str, Any]) -> None:
        """Add a new entity (creating the table); StoreError when one with the same keys exists."""
        ...

    def upsert(self, table: str, entity: Mapping[str, Any]) -> None:
        """Insert or replace the whole entity."""
        ...

    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None: ...

    def query(self, table: str, predicate: EntityPredicate | None = None, partition_key: str | None = None,
              take: int | None = None) -> list[Entity]:
        """Entities ordered by (PartitionKey, RowKey), optionally of one partition, that satisfy ``predicate``
        (called with each full entity); at most ``take`` of them."""
        ...

    def delete(self, table: str, partition_key: str, row_key: str) -> bool:
        """False when the entity did not exist."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Leases ------------------------------------------------------------------------------------------------------


class LeaseStore(Protocol):
    """Singleton locks shared by instances (timers, blob scans): one owner at a time, expiring unless renewed."""

    def acquire(self, name: str, owner: str, duration: float) -> bool:
        """True when the lease was free, expired, or already ours; it is then held ``duration`` s from now."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Free the lease when ``owner`` holds it; otherwise nothing happens."""
        ...

    def holder(self, name: str) -> str | None:
        """The owner of the unexpired lease, or None."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Backends ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendTarget:
    """Where a backend keeps its data: the connection's value and the data folder (embedded stores, blob files)."""

    data_dir: Path
    connection: str = ""
    clock: Clock = time.time
    # The app's host id: a server backend keeps host-scoped rows (keys, timer status, leases) of two apps apart.
    scope: str = ""


class StorageBackend(Protocol):
    """One connection's backend: opens each of its stores (the caller closes each store it opened)."""

    kind: str
    # A store opened twice shares its data (a database); False for stores that live in the object itself.
    reopens: bool
    # The durable engine may call the durable store's (short, local) transactions on the event loop; False for a
    # backend whose calls wait on a network and need a thread.
    durable_calls_inline: bool

    def open_state(self) -> StateStore: ...

    def open_queues(self) -> QueueBackend: ...

    def open_blobs(self) -> BlobStore: ...

    def open_blob_api(self) -> BlobApiStore:
        """The blob store with the Blob REST API's operations, on the same blobs as ``open_blobs``."""
        ...

    def open_tables(self) -> TableStore: ...

    def open_leases(self) -> LeaseStore: ...

    def open_queue_service(self) -> QueueServiceStore: ...

    def open_table_service(self) -> TableServiceStore: ...

    def open_durable(self) -> DurableStore: ...

    def open_servicebus(self) -> ServiceBusBackend: ...

    def open_eventhubs(self) -> EventHubsStore: ...

    def open_eventgrid(self) -> EventGridStore: ...

    def open_documents(self) -> DocumentStore: ...
