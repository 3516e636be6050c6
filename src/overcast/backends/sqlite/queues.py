"""SqliteQueueStore: queues in ``overcast.db``, shared by every instance process.

Every claim is one ``BEGIN IMMEDIATE`` transaction (select, then update), so processes receiving at once never get
the same message. The index ``(queue, visible, inserted)`` (plus the implicit rowid) is exactly the receive order,
so a receive reads only the rows it returns, however long the backlog; expired rows are deleted when a receive
passes over them rather than by a scan of the whole queue.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from overcast.backends.base import (
    DEFAULT_TTL,
    MAX_RECEIVE,
    Clock,
    QueuedMessage,
    expiry,
    new_message_id,
    new_pop_receipt,
    utc,
)
from overcast.backends.changes import HeardInProcess
from overcast.backends.names import (
    check_count,
    check_visibility,
    validate_queue_name,
)
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase
from overcast.backends.store_checks import check_new_message

QUEUE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS queue_messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, body BLOB NOT NULL, "
    "dequeue_count INTEGER NOT NULL DEFAULT 0, inserted REAL NOT NULL, expires REAL NOT NULL, "
    "visible REAL NOT NULL, receipt TEXT)",
    "CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible, inserted)",
]
_COLUMNS = "rowid, id, body, dequeue_count, inserted, expires, visible"
_READY = (
    f"SELECT {_COLUMNS} FROM queue_messages WHERE queue = ? AND visible <= ? ORDER BY visible, inserted, rowid"
)
_INSERT = (
    "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
    "VALUES (?, ?, ?, 0, ?, ?, ?, ?)"
)


def _message(row: tuple[Any, ...], receipt: str | None) -> QueuedMessage:
    _, mid, body, count, inserted, expires, visible = row
    return QueuedMessage(str(mid), bytes(body), int(count), utc(inserted), utc(expires), utc(visible), receipt)


class SqliteQueueStore(SqliteDatabase, HeardInProcess):
    """Implements QueueStore and QueueAdmin. One connection and lock per store; open one per process."""

    kind = "queue store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *QUEUE_SCHEMA])
        self._clock = clock

    def _add(self, conn: sqlite3.Connection, queue: str, body: bytes, now: float, visible: float,
             expires: float) -> QueuedMessage:
        mid, receipt = new_message_id(), new_pop_receipt()
        conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))
        conn.execute(_INSERT, (mid, queue, body, now, expires, visible, receipt))
        return QueuedMessage(mid, body, 0, utc(now), utc(expires), utc(visible), receipt)

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        check_new_message(queue, body, delay, ttl)
        body = bytes(body)
        with self._connection(f"add a message to queue {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            message = self._add(conn, queue, body, now, now + delay, expiry(now, ttl))
            conn.execute("COMMIT")
        return message

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to receive", max_messages, MAX_RECEIVE)
        check_visibility(visibility_timeout)
        with self._connection(f"receive from queue {queue!r}") as conn:
            # An idle listener polls often: find out without the write lock that there is nothing to claim.
            probe = "SELECT 1 FROM queue_messages WHERE queue = ? AND visible <= ? LIMIT 1"
            if conn.execute(probe, (queue, self._clock())).fetchone() is None:
                return []
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()  # read after waiting for the lock, so the claim starts when it holds
            live: list[tuple[Any, ...]] = []
            expired: list[tuple[int]] = []
            cursor = conn.execute(_READY, (queue, now))
            for row in cursor:  # rows stream in index order: stop as soon as the batch is full
                if row[5] <= now:
                    expired.append((row[0],))
                else:
                    live.append(row)
                    if len(live) == max_messages:
                        break
            cursor.close()
            if expired:
                conn.executemany("DELETE FROM queue_messages WHERE rowid = ?", expired)
            visible = now + visibility_timeout
            claimed = [
                _message((*row[:3], row[3] + 1, row[4], row[5], visible), new_pop_receipt()) for row in live
            ]
            conn.executemany(
                "UPDATE queue_messages SET dequeue_count = dequeue_count + 1, visible = ?, receipt = ? "
                "WHERE rowid = ?",
                [(visible, message.pop_receipt, row[0]) for message, row in zip(claimed, live, strict=True)],
            )
            conn.execute("COMMIT")
        return claimed

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"delete a message from queue {queue!r}") as conn:
            cursor = conn.execute(
                "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?",
                (message_id, queue, pop_receipt, self._clock()),
            )
        return cursor.rowcount == 1

    def delete_many(self, queue: str, claimed: Sequence[tuple[str, str]]) -> list[bool]:
        validate_queue_name(queue)
        with self._connection(f"delete messages from queue {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            deleted = [
                conn.execute(
                    "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?",
                    (message_id, queue, pop_receipt, now),
                ).rowcount == 1
                for message_id, pop_receipt in claimed
            ]
            conn.execute("COMMIT")
        return deleted

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        validate_queue_name(queue)
        check_visibility(visibility_timeout)
        receipt = new_pop_receipt()
        with self._connection(f"update a message of queue {queue!r}") as conn:
            now = self._clock()
            cursor = conn.execute(
                "UPDATE queue_messages SET visible = ?, receipt = ? "
                "WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?",
                (now + visibility_timeout, receipt, message_id, queue, pop_receipt, now),
            )
        return receipt if cursor.rowcount == 1 else None

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        validate_queue_name(queue)
        validate_queue_name(to_queue)
        with self._connection(f"move a message of queue {queue!r} to {to_queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            row = conn.execute(
                "SELECT rowid, body FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?",
                (message_id, queue, pop_receipt, now),
            ).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return False
            conn.execute("DELETE FROM queue_messages WHERE rowid = ?", (row[0],))
            self._add(conn, to_queue, bytes(row[1]), now, now, now + DEFAULT_TTL)
            conn.execute("COMMIT")
        return True

    def list_queues(self) -> dict[str, int]:
        with self._connection("list queues") as conn:
            rows = conn.execute(
                "SELECT q.name, COUNT(m.id) FROM queues q "
                "LEFT JOIN queue_messages m ON m.queue = q.name AND m.expires > ? GROUP BY q.name ORDER BY q.name",
                (self._clock(),),
            ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to peek", max_messages)
        with self._connection(f"peek at queue {queue!r}") as conn:
            now = self._clock()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM queue_messages WHERE queue = ? AND visible <= ? AND expires > ? "
                f"ORDER BY visible, inserted, rowid LIMIT ?",
                (queue, now, now, max_messages),
            ).fetchall()
        return [_message(row, None) for row in rows]

    def clear(self, queue: str) -> int:
        validate_queue_name(queue)
        with self._connection(f"clear queue {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            count = conn.execute(
                "SELECT COUNT(*) FROM queue_messages WHERE queue = ? AND expires > ?", (queue, self._clock())
            ).fetchone()[0]
            conn.execute("DELETE FROM queue_messages WHERE queue = ?", (queue,))
            conn.execute("COMMIT")
        return int(count)

    def delete_queue(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"delete queue {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            existed = conn.execute("DELETE FROM queues WHERE name = ?", (queue,)).rowcount > 0
            conn.execute("DELETE FROM queue_messages WHERE queue = ?", (queue,))
            conn.execute("COMMIT")
        return existed
