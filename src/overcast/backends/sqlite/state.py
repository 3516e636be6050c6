"""SqliteStateStore: the key/value state in ``<data dir>/overcast.db``, shared by every instance process.

WAL mode lets readers run while one process writes. A writer that finds the write lock taken waits for it in short,
jittered steps (:class:`RetryingConnection`) rather than with SQLite's own busy handler, whose sleeps grow to 100 ms:
under a steady stream of short consumer transactions that back-off made an occasional writer (an HTTP function's
queue output) lose the race again and again, for tens of milliseconds per message. The other stores (queues, blobs,
tables, leases) live in the same file: each subclasses :class:`SqliteDatabase` with its own schema list (applied
with :data:`SCHEMA` at open).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from overcast.backends.sql.keyrange import prefix_upper_bound as prefix_upper_bound  # re-exported: blobs, durable
from overcast.errors import StoreError

BUSY_TIMEOUT_MS = 5000
# Waits for a lock held by another connection start here and grow to the cap (each jittered by ±50 %). Transactions
# in this database hold the write lock for well under a millisecond, so a waiter polls about as often as the lock
# changes hands; a failed attempt costs microseconds.
_FIRST_WAIT_S, _MAX_WAIT_S = 0.0002, 0.002
_SQLITE_BUSY = 5

# Every statement is idempotent so that any process may run them at start, in any order, concurrently.
SCHEMA: list[str] = [
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL)",
]


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; the message is the same on 3.10
    if code is not None:
        return bool(code & 0xFF == _SQLITE_BUSY)
    return "database is locked" in str(exc).lower()


class RetryingConnection(sqlite3.Connection):
    """A connection that waits for another connection's lock in short steps, up to ``BUSY_TIMEOUT_MS``.

    Only a statement that starts a transaction (``BEGIN ...``) or runs outside one is retried: SQLite refused it
    before doing anything, so running it again is safe. Inside a transaction every store already holds the write lock
    (``BEGIN IMMEDIATE``), so nothing there waits. ``executemany`` is never retried (outside a transaction each row
    commits alone), and no store calls it outside one.
    """

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if self.in_transaction and not sql.startswith("BEGIN"):
            return super().execute(sql, parameters)
        deadline: float | None = None
        wait = _FIRST_WAIT_S
        while True:
            try:
                return super().execute(sql, parameters)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + BUSY_TIMEOUT_MS / 1000
                elif now >= deadline:
                    raise
            time.sleep(wait * random.uniform(0.5, 1.5))
            wait = min(_MAX_WAIT_S, wait * 1.5)


def connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for several processes: WAL, short-step lock waits, autocommit (transactions are explicit)."""
    conn = sqlite3.connect(
        str(path), timeout=0, isolation_level=None, check_same_thread=False, factory=RetryingConnection
    )
    try:
        # No SQLite busy handler: RetryingConnection waits instead (see the module docstring).
        conn.execute("PRAGMA busy_timeout = 0")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out other processes doing the same on a new file.

    SQLite answers "database is locked" at once (no busy handler) when processes switch a fresh file together, so
    the switch is retried up to the busy timeout; a file already in WAL mode needs no switch at all.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def apply_schema(conn: sqlite3.Connection, statements: Iterable[str] = SCHEMA) -> None:
    for statement in statements:
        conn.execute(statement)


def _hint(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (
            f"another process kept the database locked for more than {BUSY_TIMEOUT_MS // 1000} s; "
            f"retry, and look for a stuck overcast process"
        )
    if "not a database" in text or "malformed" in text:
        return "the file is not a valid Overcast database; move it away (its keys and state are lost) and restart"
    return "check that the folder is writable and on a local disk (SQLite WAL does not work on network shares)"


class SqliteDatabase:
    """One connection to ``overcast.db`` guarded by a lock (SQLite serialises writers anyway); the stores build on it.

    ``schema`` lists the idempotent statements a store needs; every store applies its own at open. ``kind`` names
    the store in error messages.
    """

    kind = "state store"

    def __init__(self, path: Path, schema: Iterable[str] = SCHEMA) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._pid = os.getpid()
        try:
            conn = connect(path)
            try:
                apply_schema(conn, schema)
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        self._conn: sqlite3.Connection | None = conn

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"SQLite {self.kind} '{self.path}': cannot {action} ({exc}); {_hint(exc)}.")

    @contextmanager
    def _connection(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"SQLite {self.kind} '{self.path}' is closed; open it again to use it.")
            if os.getpid() != self._pid:
                # A connection inherited through fork() must not be used: both processes would share its locks.
                raise StoreError(
                    f"SQLite {self.kind} '{self.path}' was opened in another process (pid {self._pid}); "
                    f"open the store in each process after it starts."
                )
            try:
                yield conn
            except BaseException as exc:
                # Any failure (a driver error, a value that cannot be encoded) must not leave a transaction open.
                if conn.in_transaction:
                    with suppress(sqlite3.Error):  # the original error is the one worth reporting
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(action, exc) from exc
                raise

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and os.getpid() == self._pid:
                conn.close()


class SqliteStateStore(SqliteDatabase):
    """The key/value state; callers cache hot reads."""

    def get(self, key: str) -> str | None:
        with self._connection(f"read {key!r}") as conn:
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        with self._connection(f"write {key!r}") as conn:
            conn.execute(
                "INSERT INTO state (key, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (key, value, time.time()),
            )

    def put_if_absent(self, key: str, value: str) -> str:
        with self._connection(f"write {key!r}") as conn:
            # IMMEDIATE takes the write lock up front, so no other process can delete the row between our
            # insert and our read: the value returned is the one stored when the transaction ends.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO state (key, value, updated) VALUES (?, ?, ?)", (key, value, time.time())
            )
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            conn.execute("COMMIT")
        return str(row[0])

    def delete(self, key: str) -> bool:
        with self._connection(f"delete {key!r}") as conn:
            cursor = conn.execute("DELETE FROM state WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def list_prefix(self, prefix: str) -> dict[str, str]:
        upper = prefix_upper_bound(prefix)
        with self._connection(f"list keys starting with {prefix!r}") as conn:
            if upper is None:
                rows = conn.execute("SELECT key, value FROM state WHERE key >= ?", (prefix,)).fetchall()
            else:
                rows = conn.execute(
                    "SELECT key, value FROM state WHERE key >= ? AND key < ?", (prefix, upper)
                ).fetchall()
        return {str(k): str(v) for k, v in rows}
