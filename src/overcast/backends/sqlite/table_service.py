"""SqliteTableService: the SQLite table store with tables as objects, ETags and transactions (the Table API); the
statements are the shared :class:`~overcast.backends.sql.table_service.TableServiceCore`'s."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from overcast.backends.base import Clock
from overcast.backends.sql.table_service import TableServiceCore
from overcast.backends.sqlite.tables import SqliteTableStore

TABLE_SERVICE_SCHEMA = [
    # tbl is the lower-cased name (the key, as in table_entities); name keeps the case it was created with.
    "CREATE TABLE IF NOT EXISTS service_tables (tbl TEXT PRIMARY KEY, name TEXT NOT NULL)",
]


class SqliteTableService(SqliteTableStore, TableServiceCore[sqlite3.Connection]):
    """Implements TableServiceStore (and so TableStore)."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, clock)
        with self._connection("prepare the table service tables") as conn:
            for statement in TABLE_SERVICE_SCHEMA:
                conn.execute(statement)

    def _begin_write(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock: no other process writes until the transaction ends
