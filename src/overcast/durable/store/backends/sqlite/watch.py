"""Waking the engine when another connection writes the database: ``PRAGMA data_version`` polling.

``data_version`` changes when any other connection (another process, the CLI, this process's own store
connection) commits to the file. A daemon thread with a connection of its own reads it every
``CHANGE_POLL`` seconds, which costs one tiny statement without touching a table, and calls the subscriber once
per change it sees: the engine then looks at once instead of at its next (backed-off, up to a second) poll.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from overcast.backends.sqlite.state import connect

CHANGE_POLL = 0.05


class DataVersionWatch:
    """One thread per subscription; ``stop`` ends it (and closes its connection) within a poll."""

    def __init__(self, path: Path, callback: Callable[[], None], interval: float = CHANGE_POLL) -> None:
        self._conn = connect(path)
        self._callback = callback
        self._interval = interval
        self._stopped = threading.Event()
        self._seen = self._version()
        self._thread = threading.Thread(target=self._run, name="overcast-durable-watch", daemon=True)
        self._thread.start()

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self._interval):
                try:
                    version = self._version()
                except sqlite3.Error:
                    continue  # a passing failure (the file being replaced, ...): the engine's own poll still runs
                if version != self._seen:
                    self._seen = version
                    self._callback()
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
