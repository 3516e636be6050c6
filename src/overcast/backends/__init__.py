"""Storage backends. Drivers load lazily so that importing this package costs nothing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from overcast.backends.base import StateStore
from overcast.errors import StoreError

__all__ = ["StateStore", "open_lease_store", "open_queue_store", "open_state_store"]

_GITIGNORE = "# Created by Overcast: this folder holds the app's keys and state. Do not commit it.\n*\n"


def open_state_store(data_dir: Path) -> StateStore:
    """The store every instance of one app shares: ``<data_dir>/overcast.db`` (the folder is created)."""
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
    from overcast.backends.sqlite import SqliteStateStore

    return SqliteStateStore(data_dir / "overcast.db")


def open_queue_store(data_dir: Path) -> Any:
    """Queues in ``<data_dir>/overcast.db`` (SQLite), shared by every instance."""
    open_state_store(data_dir).close()  # creates the folder (and its .gitignore) like the state store does
    from overcast.backends.sqlite.queues import SqliteQueueStore

    return SqliteQueueStore(data_dir / "overcast.db")


def open_lease_store(data_dir: Path) -> Any:
    """Singleton leases in ``<data_dir>/overcast.db`` (SQLite), shared by every instance."""
    open_state_store(data_dir).close()
    from overcast.backends.sqlite.leases import SqliteLeaseStore

    return SqliteLeaseStore(data_dir / "overcast.db")
