"""Waking the engine when another connection writes the database: ``PRAGMA data_version`` polling.

On one connection, ``data_version`` changes only when ANOTHER connection (another process, the CLI) committed to
the file since the last read: the store's own commits, which wake the engine directly, do not count. A daemon thread
reads it on the store's connection every ``CHANGE_POLL`` seconds (a statement of microseconds that touches no
table) and calls the subscriber once per change it sees: the engine then looks at once instead of at its next
(backed-off, up to a second) poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from overcast.errors import StoreError

CHANGE_POLL = 0.05


class DataVersionWatch:
    """One thread per subscription; ``stop`` ends it within a poll (and at once when called from a callback)."""

    def __init__(self, read_version: Callable[[], int], callback: Callable[[], None],
                 interval: float = CHANGE_POLL) -> None:
        self._read = read_version
        self._callback = callback
        self._interval = interval
        self._stopped = threading.Event()
        self._seen = read_version()
        self._thread = threading.Thread(target=self._run, name="overcast-durable-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                version = self._read()
            except StoreError:
                return  # the store was closed: nothing more to watch (the engine's own poll covers a passing error)
            if version != self._seen:
                self._seen = version
                self._callback()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
