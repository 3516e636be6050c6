"""SqliteServiceBusStore: Service Bus entities and messages in ``overcast.db``, shared by every instance process.

The statements are the shared :class:`~overcast.backends.sql.servicebus.ServiceBusCore`'s. Every receive and
settlement is one ``BEGIN IMMEDIATE`` transaction, so two processes never lock the same message or session.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from overcast.backends.base import Clock
from overcast.backends.changes import HeardInProcess
from overcast.backends.sql.servicebus import ServiceBusCore
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

SERVICEBUS_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS sb_entities (path TEXT PRIMARY KEY, kind TEXT NOT NULL, properties TEXT NOT NULL, "
    "rules TEXT NOT NULL, next_seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sb_messages (entity TEXT NOT NULL, seq INTEGER NOT NULL, dead INTEGER NOT NULL, "
    "session_id TEXT, available REAL NOT NULL, expires REAL, deliveries INTEGER NOT NULL, token TEXT, "
    "locked_until REAL, enqueued REAL NOT NULL, body BLOB NOT NULL, properties TEXT NOT NULL, reason TEXT, "
    "description TEXT, source TEXT, PRIMARY KEY (entity, seq))",
    "CREATE INDEX IF NOT EXISTS sb_messages_order ON sb_messages (entity, dead, seq)",
    "CREATE INDEX IF NOT EXISTS sb_messages_token ON sb_messages (token)",
    "CREATE TABLE IF NOT EXISTS sb_sessions (entity TEXT NOT NULL, session_id TEXT NOT NULL, token TEXT NOT NULL, "
    "locked_until REAL NOT NULL, PRIMARY KEY (entity, session_id))",
    "CREATE TABLE IF NOT EXISTS sb_seen (entity TEXT NOT NULL, message_id TEXT NOT NULL, seen REAL NOT NULL, "
    "PRIMARY KEY (entity, message_id))",
]


class SqliteServiceBusStore(SqliteDatabase, HeardInProcess, ServiceBusCore[sqlite3.Connection]):
    """Implements ServiceBusBackend. One connection and lock per store; open one per process."""

    kind = "Service Bus store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *SERVICEBUS_SCHEMA])
        self._clock = clock

    def _begin_write(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock: no other process writes until the transaction ends

    def _execute_many(self, conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(sql, rows)  # a receive's claims in one call (always inside its transaction: never retried)
