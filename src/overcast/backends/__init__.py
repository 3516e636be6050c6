"""Storage backends. Drivers load lazily so that importing this package costs nothing.

Which backend serves a connection is the table of :mod:`overcast.backends.registry`; an instance opens each
connection's stores once through :class:`overcast.backends.pool.BackendPool`. The ``open_*(data_dir)`` functions
below open one store of the embedded backend (``<data_dir>/overcast.db``, SQLite, WAL), shared by every instance
process: for tests, benchmarks and scripts. Close each store when done.
"""

from __future__ import annotations

from pathlib import Path

from overcast.backends.base import BlobStore, LeaseStore, QueueAdmin, QueueBackend, QueueStore, StateStore, TableStore
from overcast.backends.datadir import PRIVATE_DIR, PRIVATE_FILE, database_in, write_private
from overcast.backends.registry import BackendTarget, open_backend

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
    "database_in",
    "open_blob_store",
    "open_lease_store",
    "open_queue_store",
    "open_state_store",
    "open_table_store",
    "write_private",
]

EMBEDDED = "embedded"


def open_state_store(data_dir: Path) -> StateStore:
    """The key/value state (keys, timer status)."""
    return open_backend(EMBEDDED, BackendTarget(data_dir)).open_state()


def open_queue_store(data_dir: Path) -> QueueBackend:
    """Storage queues, with their admin operations (the CLI's)."""
    return open_backend(EMBEDDED, BackendTarget(data_dir)).open_queues()


def open_blob_store(data_dir: Path) -> BlobStore:
    """Blob properties in the database, contents as files under ``<data_dir>/blobs``."""
    return open_backend(EMBEDDED, BackendTarget(data_dir)).open_blobs()


def open_table_store(data_dir: Path) -> TableStore:
    return open_backend(EMBEDDED, BackendTarget(data_dir)).open_tables()


def open_lease_store(data_dir: Path) -> LeaseStore:
    """Singleton leases (timers, blob scans)."""
    return open_backend(EMBEDDED, BackendTarget(data_dir)).open_leases()
