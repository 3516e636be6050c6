"""Durable storage backends. Drivers load lazily, so importing this package costs nothing.

A storage backend (``overcast.backends.registry``) opens its durable store with its other stores; the embedded one
lives in ``<data_dir>/overcast.db`` with every other store, and every task hub shares it, each record keyed by its
hub. Open one store per process and close it when done.
"""

from __future__ import annotations

import time
from pathlib import Path

from overcast.backends.base import Clock
from overcast.backends.registry import BackendTarget, open_backend
from overcast.durable.store import DurableStore

__all__ = ["DurableStore", "open_durable_store"]


def open_durable_store(data_dir: Path, clock: Clock = time.time) -> DurableStore:
    """The embedded durable store in ``<data_dir>/overcast.db`` (the folder is created if missing): for tests,
    benchmarks and scripts; an instance opens it through its ``BackendPool``."""
    return open_backend("embedded", BackendTarget(data_dir, clock=clock)).open_durable()

