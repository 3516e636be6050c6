"""Storage backends. Drivers load lazily so that importing this package costs nothing.

Every ``open_*`` store lives in ``<data_dir>/overcast.db`` (SQLite, WAL) and is shared by every instance process;
open one per process and close it when done.
"""

from __future__ import annotations

from pathlib import Path

from overcast.backends.base import BlobStore, LeaseStore, QueueAdmin, QueueBackend, QueueStore, StateStore, TableStore
from overcast.backends.datadir import PRIVATE_DIR, PRIVATE_FILE, database_in, write_private

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "BlobStore",
    "LeaseStore",
    "QueueAdmin",
    "QueueBackend",
    "QueueStore",
    "StateStore",
    "TableStore",
    "open_blob_store",
    "open_lease_store",
    "open_queue_store",
    "open_state_store",
    "open_table_store",
    "write_private",
]


def open_state_store(data_dir: Path) -> StateStore:
    """The key/value state (keys, timer status)."""
    from overcast.backends.sqlite import SqliteStateStore

    return SqliteStateStore(database_in(data_dir))


def open_queue_store(data_dir: Path) -> QueueBackend:
    """Storage queues, with their admin operations (the CLI's)."""
    from overcast.backends.sqlite.queues import SqliteQueueStore

    return SqliteQueueStore(database_in(data_dir))


def open_blob_store(data_dir: Path) -> BlobStore:
    """Blob properties in the database, contents as files under ``<data_dir>/blobs``."""
    from overcast.backends.sqlite.blobs import SqliteBlobStore

    return SqliteBlobStore(database_in(data_dir), data_dir / "blobs")


def open_table_store(data_dir: Path) -> TableStore:
    from overcast.backends.sqlite.tables import SqliteTableStore

    return SqliteTableStore(database_in(data_dir))


def open_lease_store(data_dir: Path) -> LeaseStore:
    """Singleton leases (timers, blob scans)."""
    from overcast.backends.sqlite.leases import SqliteLeaseStore

    return SqliteLeaseStore(database_in(data_dir))
