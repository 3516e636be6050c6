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

from overcast.backends.names import check_count, validate_entity_keys, validate_table_name
from overcast.backends.sql.core import C
from overcast.backends.sql.tables import TableStoreCore
from overcast.backends.table_service_store import (
    MAX_PAGE,
    EntityFilter,
    EntityOp,
    OpFailure,
    StoredEntity,
    TableProblem,
    WriteKind,
    decide,
    encode_properties,
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
        key = validate_table_name(table).lower()
        with self._connection(f"create table '{table}'") as conn:
            self._begin_write(conn, key)
            if self._exists(conn, key):
                conn.execute("ROLLBACK")
                return False
            conn.execute(self._sql("INSERT INTO service_tables (tbl, name) VALUES (?, ?)"), (key, table))
            conn.execute("COMMIT")
        return True

    def delete_table(self, table: str) -> bool:
        key = validate_table_name(table).lower()
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
        key = validate_table_name(table).lower()
        check_count("The number of entities to return", take, MAX_PAGE)
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
                rows = conn.execute(
                    self._sql(f"SELECT pk, rk, properties, timestamp FROM table_entities WHERE {where} "
                              f"ORDER BY pk, rk LIMIT ?"),
                    (*args, limit),
                ).fetchall()
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
        key = validate_table_name(table).lower()
        validate_entity_keys(table, partition_key, row_key)
        with self._connection(f"read from table '{table}'") as conn:
            row = conn.execute(
                self._sql("SELECT properties, timestamp FROM table_entities WHERE tbl = ? AND pk = ? AND rk = ?"),
                (key, partition_key, row_key),
            ).fetchone()
            if row is None:
                return TableProblem.TABLE_NOT_FOUND if not self._exists(conn, key) else TableProblem.ENTITY_NOT_FOUND
        return StoredEntity(partition_key, row_key, json.loads(row[0]), row[1])

    def write_entities(self, table: str, ops: Sequence[EntityOp]) -> list[StoredEntity | None] | OpFailure:
        key = validate_table_name(table).lower()
        for op in ops:
            encode_properties(op, table)  # refuse bad keys and values before the transaction
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
                keys = (key, op.partition_key, op.row_key)
                row = conn.execute(
                    self._sql("SELECT properties, timestamp FROM table_entities WHERE tbl = ? AND pk = ? AND rk = ?"),
                    keys,
                ).fetchone()
                existing = None if row is None else StoredEntity(op.partition_key, op.row_key, json.loads(row[0]),
                                                                 row[1])
                problem = decide(op, existing)
                if problem is not None:
                    conn.execute("ROLLBACK")
                    return OpFailure(index, problem)
                if op.kind is WriteKind.DELETE:
                    conn.execute(self._sql("DELETE FROM table_entities WHERE tbl = ? AND pk = ? AND rk = ?"), keys)
                    results.append(None)
                    continue
                properties = merged(op, existing)
                timestamp = next_timestamp(now, None if existing is None else existing.timestamp)
                conn.execute(
                    self._sql("INSERT INTO table_entities (tbl, pk, rk, properties, timestamp) "
                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tbl, pk, rk) DO UPDATE SET "
                              "properties = excluded.properties, timestamp = excluded.timestamp"),
                    (*keys, json.dumps(properties, separators=(",", ":")), timestamp),
                )
                results.append(StoredEntity(op.partition_key, op.row_key, properties, timestamp))
            conn.execute("COMMIT")
        return results
