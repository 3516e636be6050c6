"""Durable storage backends. Drivers load lazily, so importing this package costs nothing.

The embedded store lives in ``<data_dir>/overcast.db`` with every other store (see :mod:`overcast.backends`);
every task hub shares it, each record keyed by its hub. Open one store per process and close it when done.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from overcast.backends.base import Clock
from overcast.backends.datadir import database_in
from overcast.durable.store import DurableStore

__all__ = ["DurableStore", "open_durable_store"]


def open_durable_store(data_dir: Path, clock: Clock = time.time) -> DurableStore:
    """The SQLite durable store in ``<data_dir>/overcast.db`` (the folder is created if missing)."""
    from overcast.durable.store.backends.sqlite import SqliteDurableStore

    return SqliteDurableStore(database_in(data_dir), clock)


if TYPE_CHECKING:
    from overcast.durable.store.backends.memory import MemoryDurableStore

    def _implements(store: MemoryDurableStore) -> DurableStore:
        """Never called: mypy checks here that the in-memory store implements the protocol."""
        return store
