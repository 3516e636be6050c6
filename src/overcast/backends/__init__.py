"""Storage backends. Drivers load lazily so that importing this package costs nothing.

Every ``open_*`` store lives in ``<data_dir>/overcast.db`` (SQLite, WAL) and is shared by every instance process;
open one per process and close it when done.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from overcast.backends.base import BlobStore, LeaseStore, QueueAdmin, QueueBackend, QueueStore, StateStore, TableStore
from overcast.backends.files import PRIVATE_DIR, PRIVATE_FILE, write_private
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
    """``<data_dir>/overcast.db``, creating the folder (with a .gitignore the first time).

    The database holds the master and function keys: the folder is created 0700 and the database 0600 before
    SQLite opens it (SQLite gives its -wal and -shm files the database's own mode).
    """
    created = not data_dir.exists()
    database = data_dir / "overcast.db"
    try:
        data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        if not database.exists():
            # Never open an existing database here: closing any descriptor of a file drops every POSIX lock this
            # process holds on it, and SQLite's connections of this process rely on theirs.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except OSError as exc:
        raise StoreError(
            f"Cannot create the data folder '{data_dir}': {exc.strerror or exc}. "
            f"Pass --data-dir (or set OVERCAST_DATA_DIR) with a writable folder."
        ) from exc
    # A database an older version created readable by others is tightened (a chmod only its owner can do).
    for path in (database, data_dir / "overcast.db-wal", data_dir / "overcast.db-shm"):
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)
    if created:
        # The default folder sits inside the app (<script root>/.overcast) and holds its keys: keep it out of git.
        with contextlib.suppress(OSError):
            write_private(data_dir / ".gitignore", _GITIGNORE.encode())
    return database


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
