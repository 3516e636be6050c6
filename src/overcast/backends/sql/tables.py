"""``TableStoreCore``: Azure Tables entities in ``table_entities``, keyed by (table, PartitionKey, RowKey), for the
SQLite and PostgreSQL table stores.

Queries page through the primary key (which is the Azure order: code point order in both databases) and apply the
caller's predicate between pages, outside the lock: a slow predicate never holds up other threads, and a large table
is never loaded at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from overcast.backends.base import Entity, EntityPredicate, decode_entity, encode_entity
from overcast.backends.sql.core import C, SqlStore
from overcast.backends.store_checks import entity_table_key, query_table_key, table_key
from overcast.errors import StoreError

_PAGE = 500
_UPSERT = ("INSERT INTO table_entities (tbl, pk, rk, properties, timestamp) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (tbl, pk, rk) DO UPDATE SET properties = excluded.properties, timestamp = excluded.timestamp")


class TableStoreCore(SqlStore[C]):
    """Implements TableStore over the database's ``table_entities`` (tbl is the lower-cased table name: Azure table
    names ignore case). The row helpers (``_row``, ``_rows``, ``_upsert``, ``_remove``) serve the table service too."""

    def _row(self, conn: C, key: str, partition_key: str, row_key: str) -> tuple[str, float] | None:
        """One entity's stored properties (JSON text) and timestamp."""
        row = conn.execute(
            self._sql("SELECT properties, timestamp FROM table_entities WHERE tbl = ? AND pk = ? AND rk = ?"),
            (key, partition_key, row_key),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _rows(self, conn: C, where: str, args: Sequence[object], limit: int) -> list[Any]:
        """Up to ``limit`` entities matching ``where``, in key order: (pk, rk, properties, timestamp) each."""
        return conn.execute(
            self._sql(f"SELECT pk, rk, properties, timestamp FROM table_entities WHERE {where} "
                      f"ORDER BY pk, rk LIMIT ?"),
            (*args, limit),
        ).fetchall()

    def _upsert(self, conn: C, key: str, partition_key: str, row_key: str, properties: str, timestamp: float) -> None:
        conn.execute(self._sql(_UPSERT), (key, partition_key, row_key, properties, timestamp))

    def _remove(self, conn: C, key: str, partition_key: str, row_key: str) -> bool:
        """Delete one entity: whether it was there."""
        cursor = conn.execute(
            self._sql("DELETE FROM table_entities WHERE tbl = ? AND pk = ? AND rk = ?"), (key, partition_key, row_key)
        )
        return cursor.rowcount == 1

    def insert(self, table: str, entity: Mapping[str, Any]) -> None:
        key = table_key(table)
        partition_key, row_key, properties = encode_entity(table, entity)
        with self._connection(f"insert into table '{table}'") as conn:
            cursor = conn.execute(
                self._sql("INSERT INTO table_entities (tbl, pk, rk, properties, timestamp) VALUES (?, ?, ?, ?, ?) "
                          "ON CONFLICT (tbl, pk, rk) DO NOTHING"),
                (key, partition_key, row_key, properties, self._clock()),
            )
        if cursor.rowcount != 1:
            raise StoreError(
                f"Table '{table}' already has an entity with PartitionKey {partition_key!r} and RowKey "
                f"{row_key!r}; use a new RowKey, or upsert to replace it."
            )

    def upsert(self, table: str, entity: Mapping[str, Any]) -> None:
        key = table_key(table)
        partition_key, row_key, properties = encode_entity(table, entity)
        with self._connection(f"write to table '{table}'") as conn:
            self._upsert(conn, key, partition_key, row_key, properties, self._clock())

    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        key = entity_table_key(table, partition_key, row_key)
        with self._connection(f"read from table '{table}'") as conn:
            row = self._row(conn, key, partition_key, row_key)
        return None if row is None else decode_entity(partition_key, row_key, *row)

    def query(self, table: str, predicate: EntityPredicate | None = None, partition_key: str | None = None,
              take: int | None = None) -> list[Entity]:
        key = query_table_key(table, partition_key, take)
        where, args = "tbl = ?", [key]
        if partition_key is not None:
            where, args = where + " AND pk = ?", [*args, partition_key]
        found: list[Entity] = []
        after: tuple[str, str] | None = None
        while True:
            page_where, page_args = where, list(args)
            if after is not None:
                page_where += " AND (pk, rk) > (?, ?)"
                page_args += after
            # Without a predicate the rows still needed bound the page; with one, any page may hold no match.
            limit = _PAGE if predicate is not None or take is None else min(_PAGE, take - len(found))
            with self._connection(f"query table '{table}'") as conn:
                rows = self._rows(conn, page_where, page_args, limit)
            for pk, rk, properties, timestamp in rows:
                entity = decode_entity(pk, rk, properties, timestamp)
                if predicate is None or predicate(entity):
                    found.append(entity)
                    if take is not None and len(found) >= take:
                        return found
            if len(rows) < limit:
                return found
            after = (rows[-1][0], rows[-1][1])

    def delete(self, table: str, partition_key: str, row_key: str) -> bool:
        key = entity_table_key(table, partition_key, row_key)
        with self._connection(f"delete from table '{table}'") as conn:
            return self._remove(conn, key, partition_key, row_key)
