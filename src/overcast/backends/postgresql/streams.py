"""Connections of their own for streamed blob reads and writes, so a slow client never holds the store's lock.

A store has one connection under a lock (:mod:`overcast.backends.postgresql.database`); a download holds a
REPEATABLE READ snapshot and an upload holds an open transaction for as long as the client takes, so each of them
borrows a connection from this small pool instead. At most ``limit`` streams run at once per store (a further one
waits up to ``WAIT_S``, then fails with a clear error); a connection comes back idle (the stream's transaction ended)
or is closed when it broke.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from overcast.backends.postgresql.database import connect
from overcast.backends.postgresql.messages import explain
from overcast.errors import StoreError

STREAMS = 16  # streamed reads and writes at once, per store
WAIT_S = 30.0


class StreamConnections:
    """Up to ``limit`` connections to ``url``, opened when first needed and kept idle between streams."""

    def __init__(self, url: str, where: str, limit: int = STREAMS) -> None:
        self.url = url
        self.where = where
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False

    def acquire(self, action: str) -> psycopg.Connection[Any]:
        """An idle connection (StoreError when ``limit`` streams stay busy for ``WAIT_S`` or none can be opened);
        give it back with :meth:`release`."""
        if not self._slots.acquire(timeout=WAIT_S):
            raise StoreError(f"PostgreSQL blob store at {self.where}: cannot {action}: {self.limit} blob transfers "
                             f"were already running for {WAIT_S:.0f} s; retry later.")
        try:
            with self._lock:
                if self._closed:
                    raise StoreError(f"PostgreSQL blob store at {self.where} is closed; open it again to use it.")
                while self._idle:
                    conn = self._idle.pop()
                    if not conn.closed and not conn.broken:
                        return conn
            return connect(self.url)
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: psycopg.Connection[Any]) -> None:
        """Take the connection back: rolled back if a transaction is still open, closed if it broke or the pool
        closed meanwhile."""
        try:
            if not conn.closed and not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            with self._lock:
                keep = not self._closed and not conn.closed and not conn.broken
                if keep:
                    self._idle.append(conn)
            if not keep:
                with suppress(psycopg.Error):
                    conn.close()
        finally:
            self._slots.release()

    @contextmanager
    def borrowed(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one block of work; driver errors become StoreError naming ``action``."""
        conn = self.acquire(action)
        try:
            yield conn
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL blob store at {self.where}: cannot {action} ({explain(exc)}).") from exc
        finally:
            self.release(conn)

    def idle(self) -> int:
        """How many connections wait idle (tests check that abandoned streams came back)."""
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            with suppress(psycopg.Error):
                conn.close()
