"""MemoryTableStore: entities kept in their stored JSON form, so values round-trip exactly as in SQLite."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from overcast.backends.base import Entity, EntityPredicate, decode_entity, encode_entity
from overcast.backends.memory.common import Clock, MemoryStore
from overcast.backends.store_checks import entity_table_key, query_table_key, table_key
from overcast.errors import StoreError

# (PartitionKey, RowKey) -> (properties JSON, timestamp)
_Table = dict[tuple[str, str], tuple[str, float]]


class MemoryTableStore(MemoryStore):
    kind = "table store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._tables: dict[str, _Table] = {}

    def insert(self, table: str, entity: Mapping[str, Any]) -> None:
        key = table_key(table)
        partition_key, row_key, properties = encode_entity(table, entity)
        with self._open() as now:
            rows = self._tables.setdefault(key, {})
            if (partition_key, row_key) in rows:
                raise StoreError(
                    f"Table '{table}' already has an entity with PartitionKey {partition_key!r} and RowKey "
                    f"{row_key!r}; use a new RowKey, or upsert to replace it."
                )
            rows[partition_key, row_key] = (properties, now)

    def upsert(self, table: str, entity: Mapping[str, Any]) -> None:
        key = table_key(table)
        partition_key, row_key, properties = encode_entity(table, entity)
        with self._open() as now:
            self._tables.setdefault(key, {})[partition_key, row_key] = (properties, now)

    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        key = entity_table_key(table, partition_key, row_key)
        with self._open():
            found = self._tables.get(key, {}).get((partition_key, row_key))
        return None if found is None else decode_entity(partition_key, row_key, *found)

    def query(self, table: str, predicate: EntityPredicate | None = None, partition_key: str | None = None,
              take: int | None = None) -> list[Entity]:
        key = query_table_key(table, partition_key, take)
        with self._open():
            rows = sorted((k, v) for k, v in self._tables.get(key, {}).items()
                          if partition_key is None or k[0] == partition_key)
        # The predicate runs outside the lock: it is caller code and must not stall other threads.
        found: list[Entity] = []
        for (pk, rk), stored in rows:
            entity = decode_entity(pk, rk, *stored)
            if predicate is None or predicate(entity):
                found.append(entity)
                if take is not None and len(found) >= take:
                    break
        return found

    def delete(self, table: str, partition_key: str, row_key: str) -> bool:
        key = entity_table_key(table, partition_key, row_key)
        with self._open():
            return self._tables.get(key, {}).pop((partition_key, row_key), None) is not None
