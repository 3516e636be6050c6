"""SqliteTableStore: Azure Tables entities in ``overcast.db``; the statements are the shared
:class:`~overcast.backends.sql.tables.TableStoreCore`'s."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from overcast.backends.base import Clock
from overcast.backends.sql.tables import TableStoreCore
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

TABLE_SCHEMA = [
    # tbl is the lower-cased table name: Azure table names ignore case.
    "CREATE TABLE IF NOT EXISTS table_entities (tbl TEXT NOT NULL, pk TEXT NOT NULL, rk TEXT NOT NULL, "
    "properties TEXT NOT NULL, timestamp REAL NOT NULL, PRIMARY KEY (tbl, pk, rk)) WITHOUT ROWID",
]


class SqliteTableStore(SqliteDatabase, TableStoreCore[sqlite3.Connection]):
    """Implements TableStore."""

    kind = "table store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *TABLE_SCHEMA])
        self._clock = clock

