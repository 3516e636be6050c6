"""What every in-memory store shares: one lock, a closed flag and the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from overcast.backends.base import Clock
from overcast.errors import StoreError

__all__ = ["Clock", "MemoryStore"]


class MemoryStore:
    """Base of the in-memory stores: every operation runs under one lock, so each is atomic for this process."""

    kind = "store"

    def __init__(self, clock: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._clock = clock

    @contextmanager
    def _open(self) -> Iterator[float]:
        """Hold the lock and yield the time the operation happens at."""
        with self._lock:
            if self._closed:
                raise StoreError(f"The in-memory {self.kind} is closed; open a new one.")
            yield self._clock()

    def close(self) -> None:
        with self._lock:
            self._closed = True
