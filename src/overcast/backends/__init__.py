"""Storage backends. Drivers load lazily so that importing this package costs nothing.

Every ``open_*`` store lives in ``<data_dir>/overcast.db`` (SQLite, WAL) and is shared by every instance process;
open one per process and close it when done.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from overcast.backends.base import BlobStore, LeaseStore, QueueAdmin, QueueBackend, QueueStore, StateStore, TableStore
from overcast.errors import StoreError

__all__ = [
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
]

_GITIGNORE = "# Created by Overcast: this folder holds the app's keys and state. Do not commit it.\n*\n"


def _database(data_dir: Path) -> Path:
    """``<data_dir>/overcast.db``, creating the folder (with a .gitignore the first time)."""
    created = not data_dir.exists()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the data folder '{data_dir}': {exc.strerror or exc}. "
            f"Pass --data-dir (or set OVERCAST_DATA_DIR) with a writable folder."
        ) from exc
    if created:
        # The default folder sits inside the app (<script root>/.overcast) and holds its keys: keep it out of git.
        with contextlib.suppress(OSError):
            (data_dir / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    return data_dir / "overcast.db"


def open_state_store(data_dir: Path) -> StateStore:
    """The key/value state (keys, timer status)."""
    from overcast.backends.sqlite import SqliteStateStore

    return SqliteStateStore(_database(data_dir))


def open_queue_store(data_dir: Path) -> QueueBackend:
    """Storage queues, with their admin operations (the CLI's)."""
    from overcast.backends.sqlite.queues import SqliteQueueStore

    return SqliteQueueStore(_database(data_dir))


def open_blob_store(data_dir: Path) -> BlobStore:
    """Blob properties in the database, contents as files under ``<data_dir>/blobs``."""
    from overcast.backends.sqlite.blobs import SqliteBlobStore

    return SqliteBlobStore(_database(data_dir), data_dir / "blobs")


def open_table_store(data_dir: Path) -> TableStore:
    from overcast.backends.sqlite.tables import SqliteTableStore

    return SqliteTableStore(_database(data_dir))


def open_lease_store(data_dir: Path) -> LeaseStore:
    """Singleton leases (timers, blob scans)."""
    from overcast.backends.sqlite.leases import SqliteLeaseStore

    return SqliteLeaseStore(_database(data_dir))
