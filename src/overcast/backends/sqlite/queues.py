"""SqliteQueueStore: queues in ``overcast.db``. Every claim is one ``BEGIN IMMEDIATE`` transaction, so several
processes receiving at once never get the same message."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from overcast.backends.base import QueuedMessage
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

DEFAULT_TTL = 7 * 24 * 3600.0
NEVER = 253402300799.0  # 9999-12-31T23:59:59Z, Azure's "never expires"
QUEUE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS queue_messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, body BLOB NOT NULL, "
    "dequeue_count INTEGER NOT NULL DEFAULT 0, inserted REAL NOT NULL, expires REAL NOT NULL, "
    "visible REAL NOT NULL, receipt TEXT)",
    "CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible, inserted)",
    "CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY)",
]


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class SqliteQueueStore(SqliteDatabase):
    """Shares the state store's connection handling (one connection, a lock, fork checks, error translation)."""

    def __init__(self, path: Path, clock: object = time.time) -> None:
        super().__init__(path, [*SCHEMA, *QUEUE_SCHEMA])
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    @staticmethod
    def _message(row: tuple[Any, ...], receipt: str | None) -> QueuedMessage:
        mid, body, count, inserted, expires, visible = row[:6]
        return QueuedMessage(str(mid), bytes(body), int(count), _dt(float(inserted)), _dt(float(expires)),
                             _dt(float(visible)), receipt)

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        now = self._now()
        expires = NEVER if ttl == -1 else now + (DEFAULT_TTL if ttl is None else ttl)
        mid = str(uuid.uuid4())
        with self._connection(f"enqueue to {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))
            conn.execute(
                "INSERT INTO queue_messages (id, queue, body, inserted, expires, visible) VALUES (?, ?, ?, ?, ?, ?)",
                (mid, queue, body, now, expires, now + delay),
            )
            conn.execute("COMMIT")
        return QueuedMessage(mid, body, 0, _dt(now), _dt(expires), _dt(now + delay), None)

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        now = self._now()
        with self._connection(f"receive from {queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM queue_messages WHERE queue = ? AND expires <= ?", (queue, now))
            rows = conn.execute(
                "SELECT id, body, dequeue_count, inserted, expires, visible FROM queue_messages "
                "WHERE queue = ? AND visible <= ? ORDER BY inserted, rowid LIMIT ?",
                (queue, now, max_messages),
            ).fetchall()
            claimed = []
            for row in rows:
                receipt = uuid.uuid4().hex
                visible = now + visibility_timeout
                conn.execute(
                    "UPDATE queue_messages SET dequeue_count = dequeue_count + 1, visible = ?, receipt = ? "
                    "WHERE id = ?", (visible, receipt, row[0]),
                )
                claimed.append(self._message((row[0], row[1], row[2] + 1, row[3], row[4], visible), receipt))
            conn.execute("COMMIT")
        return claimed

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        with self._connection(f"delete from {queue!r}") as conn:
            cursor = conn.execute(
                "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?",
                (message_id, queue, pop_receipt),
            )
        return cursor.rowcount == 1

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        receipt = uuid.uuid4().hex
        with self._connection(f"update a message of {queue!r}") as conn:
            cursor = conn.execute(
                "UPDATE queue_messages SET visible = ?, receipt = ? WHERE id = ? AND queue = ? AND receipt = ?",
                (self._now() + visibility_timeout, receipt, message_id, queue, pop_receipt),
            )
        return receipt if cursor.rowcount == 1 else None

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        now = self._now()
        with self._connection(f"move a message of {queue!r} to {to_queue!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT body FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?",
                (message_id, queue, pop_receipt),
            ).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return False
            conn.execute("DELETE FROM queue_messages WHERE id = ?", (message_id,))
            conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (to_queue,))
            conn.execute(
                "INSERT INTO queue_messages (id, queue, body, inserted, expires, visible) VALUES (?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), to_queue, row[0], now, now + DEFAULT_TTL, now),
            )
            conn.execute("COMMIT")
        return True

    def list_queues(self) -> dict[str, int]:
        with self._connection("list queues") as conn:
            rows = conn.execute(
                "SELECT q.name, COUNT(m.id) FROM queues q LEFT JOIN queue_messages m ON m.queue = q.name "
                "GROUP BY q.name ORDER BY q.name"
            ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        now = self._now()
        with self._connection(f"peek {queue!r}") as conn:
            rows = conn.execute(
                "SELECT id, body, dequeue_count, inserted, expires, visible FROM queue_messages "
                "WHERE queue = ? AND visible <= ? AND expires > ? ORDER BY inserted, rowid LIMIT ?",
                (queue, now, now, max_messages),
            ).fetchall()
        return [self._message(row, None) for row in rows]

    def clear(self, queue: str) -> int:
        with self._connection(f"clear {queue!r}") as conn:
            return int(conn.execute("DELETE FROM queue_messages WHERE queue = ?", (queue,)).rowcount)
