"""MemoryTableService: the in-memory table store with tables as objects, ETags and transactions (the Table API)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from overcast.backends.memory.common import Clock
from overcast.backends.memory.tables import MemoryTableStore
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


class MemoryTableService(MemoryTableStore):
    """Implements TableServiceStore (and so TableStore): the service operations see the same entities."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._names: dict[str, str] = {}  # lower-cased name -> the name as created

    def create_table(self, table: str) -> bool:
        key = table_key(table)
        with self._open():
            if key in self._tables:
                return False
            self._tables[key] = {}
            self._names[key] = table
            return True

    def delete_table(self, table: str) -> bool:
        key = table_key(table)
        with self._open():
            self._names.pop(key, None)
            return self._tables.pop(key, None) is not None

    def list_tables(self) -> list[str]:
        with self._open():
            return sorted(self._names.get(key, key) for key in self._tables)

    def query_entities(self, table: str, accept: EntityFilter | None, start: tuple[str, str] | None,
                       take: int) -> tuple[list[StoredEntity], tuple[str, str] | None] | None:
        key = page_table_key(table, take)
        with self._open():
            rows = self._tables.get(key)
            if rows is None:
                return None
            ordered = sorted((k, v) for k, v in rows.items() if start is None or k >= start)
        found: list[StoredEntity] = []
        for (pk, rk), (properties, timestamp) in ordered:  # the filter runs outside the lock (it may be slow)
            entity = StoredEntity(pk, rk, json.loads(properties), timestamp)
            if accept is None or accept(entity):
                if len(found) == take:
                    return found, (pk, rk)
                found.append(entity)
        return found, None

    def get_entity(self, table: str, partition_key: str, row_key: str) -> StoredEntity | TableProblem:
        key = entity_table_key(table, partition_key, row_key)
        with self._open():
            rows = self._tables.get(key)
            if rows is None:
                return TableProblem.TABLE_NOT_FOUND
            found = rows.get((partition_key, row_key))
        if found is None:
            return TableProblem.ENTITY_NOT_FOUND
        return StoredEntity(partition_key, row_key, json.loads(found[0]), found[1])

    def write_entities(self, table: str, ops: Sequence[EntityOp]) -> list[StoredEntity | None] | OpFailure:
        key = write_table_key(table, ops)  # bad keys and values are refused before anything changes
        with self._open() as now:
            rows = self._tables.get(key)
            if rows is None:
                return OpFailure(0, TableProblem.TABLE_NOT_FOUND)
            staged: dict[tuple[str, str], tuple[str, float] | None] = {}  # applied only when every op succeeded
            results: list[StoredEntity | None] = []
            for index, op in enumerate(ops):
                keys = (op.partition_key, op.row_key)
                found = staged[keys] if keys in staged else rows.get(keys)
                existing = None if found is None else StoredEntity(*keys, json.loads(found[0]), found[1])
                problem = decide(op, existing)
                if problem is not None:
                    return OpFailure(index, problem)
                if op.kind is WriteKind.DELETE:
                    staged[keys] = None
                    results.append(None)
                    continue
                properties = merged(op, existing)
                timestamp = next_timestamp(now, None if existing is None else existing.timestamp)
                staged[keys] = (json.dumps(properties, separators=(",", ":")), timestamp)
                results.append(StoredEntity(*keys, properties, timestamp))
            for keys, value in staged.items():
                if value is None:
                    del rows[keys]
                else:
                    rows[keys] = value
            return results
