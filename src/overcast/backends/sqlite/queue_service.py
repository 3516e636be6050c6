"""SqliteQueueService: the SQLite queue store with queues as objects (metadata, listing) for the Queue API; the
statements are the shared :class:`~overcast.backends.sql.queue_service.QueueServiceCore`'s."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from overcast.backends.base import Clock
from overcast.backends.names import validate_queue_name
from overcast.backends.sql.queue_service import QueueServiceCore
from overcast.backends.sqlite.queues import SqliteQueueStore

QUEUE_SERVICE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS queue_metadata (name TEXT PRIMARY KEY, metadata TEXT NOT NULL)",
]


class SqliteQueueService(SqliteQueueStore, QueueServiceCore[sqlite3.Connection]):
    """Implements QueueServiceStore and QueueBackend on one object (and connection)."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, clock)
        with self._connection("prepare the queue service tables") as conn:
            for statement in QUEUE_SERVICE_SCHEMA:
                conn.execute(statement)

    def _begin_write(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock: no other process writes until the transaction ends

    def _begin_snapshot(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")  # a read transaction in WAL mode sees one snapshot until it ends

    def delete_queue(self, queue: str) -> bool:
        with self._connection(f"delete the metadata of queue {queue!r}") as conn:
            conn.execute("DELETE FROM queue_metadata WHERE name = ?", (validate_queue_name(queue),))
        return super().delete_queue(queue)
