"""PostgresTableStore: Azure Tables entities keyed by (table, PartitionKey, RowKey) (the keys are ``COLLATE "C"``:
the Azure order); the statements are the shared :class:`~overcast.backends.sql.tables.TableStoreCore`'s."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from overcast.backends.base import Clock
from overcast.backends.postgresql.database import PostgresDatabase
from overcast.backends.sql.tables import TableStoreCore

Conn = psycopg.Connection[Any]


class PostgresTableStore(PostgresDatabase, TableStoreCore[Conn]):
    """Implements TableStore."""

    kind = "table store"
    placeholder = "%s"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

