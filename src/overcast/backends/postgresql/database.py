"""One PostgreSQL connection per store, guarded by a lock, with the error translation and reconnection every
PostgreSQL store shares.

A connection runs in autocommit mode; a store that needs several statements in one transaction issues ``BEGIN`` and
``COMMIT`` itself (as the SQLite stores do), and any failure inside rolls back. A connection the server dropped (a
restart, a failover, a network cut) is thrown away: the call that met it raises :class:`StoreError`, as any storage
failure does, and the next call opens a new connection, at most once per back-off step, so a database that is down
costs a failed call, never a busy loop. Callers (listeners, the engine) already retry after a StoreError; nothing
was committed by the failed call, so nothing accepted is lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from overcast.backends.postgresql.messages import explain, redact
from overcast.backends.postgresql.schema import ensure_schema
from overcast.backends.sql.keyrange import prefix_upper_bound as prefix_upper_bound  # re-exported: blobs, durable
from overcast.errors import StoreError

CONNECT_TIMEOUT_S = 5
# After a failed connect, the next attempt waits this long, doubling up to the cap: a database that is down costs
# one quick failure per step, and a restarted one is found again within the cap.
_FIRST_BACKOFF_S, _MAX_BACKOFF_S = 0.1, 2.0


def connect(url: str) -> psycopg.Connection[Any]:
    """A new autocommit connection; StoreError (one line, no password) when the server refuses it."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {redact(url)}: cannot connect ({explain(exc)}).") from exc


class PostgresDatabase:
    """A lazily (re)connected connection to the database of ``url``; ``kind`` names the store in errors."""

    kind = "state store"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._backoff = _FIRST_BACKOFF_S
        self._next_attempt = 0.0
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            self._open()  # at open, so that a bad URL or an absent server is reported at start

    def _open(self) -> psycopg.Connection[Any]:
        conn = connect(self.url)
        try:
            ensure_schema(conn, self.url)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._backoff = _FIRST_BACKOFF_S
        return conn

    def _current(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreError(f"PostgreSQL {self.kind} at {self.where} is closed; open it again to use it.")
        if os.getpid() != self._pid:
            raise StoreError(
                f"PostgreSQL {self.kind} at {self.where} was opened in another process (pid {self._pid}); "
                f"open the store in each process after it starts."
            )
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        now = time.monotonic()
        if now < self._next_attempt:
            raise StoreError(f"PostgreSQL {self.kind} at {self.where}: the database is unreachable; retrying.")
        try:
            return self._open()
        except StoreError:
            self._next_attempt = now + self._backoff
            self._backoff = min(_MAX_BACKOFF_S, self._backoff * 2)
            raise

    def ping(self) -> bool:
        """Whether the server answers now (reconnecting, within the back-off, if the connection was lost)."""
        try:
            with self._connection("reach the database") as conn:
                conn.execute("SELECT 1")
            return True
        except StoreError:
            return False

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            conn = self._current()
            try:
                yield conn
            except BaseException as exc:
                # Any failure (a driver error, a value that cannot be encoded) must not leave a transaction open.
                if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    if conn.broken or isinstance(exc, psycopg.OperationalError):
                        with suppress(psycopg.Error):
                            conn.close()
                        self._conn = None
                    raise StoreError(
                        f"PostgreSQL {self.kind} at {self.where}: cannot {action} ({explain(exc)})."
                    ) from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None and os.getpid() == self._pid:
                with suppress(psycopg.Error):
                    conn.close()
