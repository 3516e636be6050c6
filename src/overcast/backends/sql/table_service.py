"""``TableServiceCore``: the table store with tables as objects, ETags and transactions (the Table API), for the
SQLite and PostgreSQL table services.

It works on the table store's own rows (``table_entities``), so an entity written by a table output binding is the
entity the API reads. Tables created through the API are listed in ``service_tables`` with the case they were
created with; a table that a binding's write made exists because it has entities. Operations that check and then
write hold the table's write lock (``_begin_write``) for their transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from overcast.backends.sql.core import C
from overcast.backends.sql.tables import TableStoreCore
from overcast.backends.store_checks import entity_table_key, page_table_key, table_key, write_table_key
from overcast.backends.table_service_store import (
    EntityFilter,
    EntityOp,
    OpFailure,
    StoredEntity,
    TableProblem,
    WriteKind,
    decide,
    merged,
    next_timestamp,
)

_PAGE = 500


class TableServiceCore(TableStoreCore[C]):
    """Implements TableServiceStore (and so TableStore)."""

    def _exists(self, conn: C, key: str) -> bool:
        return conn.execute(
            self._sql("SELECT 1 FROM service_tables WHERE tbl = ? UNION ALL "
                      "SELECT 1 FROM table_entities WHERE tbl = ? LIMIT 1"),
            (key, key),
        ).fetchone() is not None

    def create_table(self, table: str) -> bool:
        key = table_key(table)
        with self._connection(f"create table '{table}'") as conn:
            self._begin_write(conn, key)
            if self._exists(conn, key):
                conn.execute("ROLLBACK")
                return False
            conn.execute(self._sql("INSERT INTO service_tables (tbl, name) VALUES (?, ?)"), (key, table))
            conn.execute("COMMIT")
        return True

    def delete_table(self, table: str) -> bool:
        key = table_key(table)
        with self._connection(f"delete table '{table}'") as conn:
            self._begin_write(conn, key)
            existed = self._exists(conn, key)
            conn.execute(self._sql("DELETE FROM service_tables WHERE tbl = ?"), (key,))
            conn.execute(self._sql("DELETE FROM table_entities WHERE tbl = ?"), (key,))
            conn.execute("COMMIT")
        return existed

    def list_tables(self) -> list[str]:
        with self._connection("list tables") as conn:
            rows = conn.execute(
                "SELECT name FROM service_tables UNION "
                "SELECT DISTINCT tbl FROM table_entities WHERE tbl NOT IN (SELECT tbl FROM service_tables)"
            ).fetchall()
        return sorted(str(row[0]) for row in rows)

    def query_entities(self, table: str, accept: EntityFilter | None, start: tuple[str, str] | None,
                       take: int) -> tuple[list[StoredEntity], tuple[str, str] | None] | None:
        key = page_table_key(table, take)
        found: list[StoredEntity] = []
        first = True
        while True:
            where, args = "tbl = ?", [key]
            if start is not None:
                # Inclusive on the first page (a continuation names the next entity), exclusive after.
                where += " AND (pk, rk) >= (?, ?)" if first else " AND (pk, rk) > (?, ?)"
                args = [*args, *start]
            limit = _PAGE if accept is not None else take + 1 - len(found)
            with self._connection(f"query table '{table}'") as conn:
                if first and not self._exists(conn, key):
                    return None
                rows = self._rows(conn, where, args, limit)
            first = False
            # The filter runs between pages, outside the lock: a slow one never holds up other threads.
            for pk, rk, properties, timestamp in rows:
                entity = StoredEntity(pk, rk, json.loads(properties), timestamp)
                if accept is None or accept(entity):
                    if len(found) == take:
                        return found, (pk, rk)
                    found.append(entity)
            if len(rows) < limit:
                return found, None
            start = (rows[-1][0], rows[-1][1])

    def get_entity(self, table: str, partition_key: str, row_key: str) -> StoredEntity | TableProblem:
        key = entity_table_key(table, partition_key, row_key)
        with self._connection(f"read from table '{table}'") as conn:
            row = self._row(conn, key, partition_key, row_key)
            if row is None:
                return TableProblem.TABLE_NOT_FOUND if not self._exists(conn, key) else TableProblem.ENTITY_NOT_FOUND
        return StoredEntity(partition_key, row_key, json.loads(row[0]), row[1])

    def write_entities(self, table: str, ops: Sequence[EntityOp]) -> list[StoredEntity | None] | OpFailure:
        key = write_table_key(table, ops)  # bad keys and values are refused before anything changes
        results: list[StoredEntity | None] = []
        with self._connection(f"write to table '{table}'") as conn:
            self._begin_write(conn, key)
            if not self._exists(conn, key):
                conn.execute("ROLLBACK")
                return OpFailure(0, TableProblem.TABLE_NOT_FOUND)
            # A table a binding made exists by its entities: listing it keeps it when its last entity goes.
            conn.execute(
                self._sql("INSERT INTO service_tables (tbl, name) VALUES (?, ?) ON CONFLICT (tbl) DO NOTHING"),
                (key, key),
            )
            now = self._clock()
            for index, op in enumerate(ops):
                row = self._row(conn, key, op.partition_key, op.row_key)
                existing = None if row is None else StoredEntity(op.partition_key, op.row_key, json.loads(row[0]),
                                                                 row[1])
                problem = decide(op, existing)
                if problem is not None:
                    conn.execute("ROLLBACK")
                    return OpFailure(index, problem)
                if op.kind is WriteKind.DELETE:
                    self._remove(conn, key, op.partition_key, op.row_key)
                    results.append(None)
                    continue
                properties = merged(op, existing)
                timestamp = next_timestamp(now, None if existing is None else existing.timestamp)
                self._upsert(conn, key, op.partition_key, op.row_key, json.dumps(properties, separators=(",", ":")),
                             timestamp)
                results.append(StoredEntity(op.partition_key, op.row_key, properties, timestamp))
            conn.execute("COMMIT")
        return results
