"""MemoryDocumentStore: Cosmos DB containers in this process; items kept as their stored JSON, so values round-trip
exactly as in SQLite."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from overcast.backends import documents_store as ds
from overcast.backends.changes import HeardInProcess
from overcast.backends.documents_store import ContainerInfo, Document, FeedItem, WriteMode
from overcast.backends.memory.common import Clock, MemoryStore


@dataclass
class _Item:
    body: str  # the stored JSON (with system properties)
    etag: str
    sequence: int
    feed_range: int
    ts: float


@dataclass
class _Container:
    info: ContainerInfo
    items: dict[tuple[str, str], _Item] = field(default_factory=dict)  # (partition key text, id) -> item
    created: int = 0  # items ever created (numbers the _rid)


class MemoryDocumentStore(MemoryStore, HeardInProcess):
    kind = "document store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._databases: dict[str, str] = {}  # name -> rid
        self._containers: dict[tuple[str, str], _Container] = {}

    def _container(self, database: str, container: str) -> _Container:
        found = self._containers.get((database, container))
        if found is None:
            raise ds.missing_container(database, container)
        return found

    def create_container(self, database: str, container: str,
                         partition_key_path: str = ds.DEFAULT_PARTITION_KEY_PATH,
                         feed_ranges: int = ds.DEFAULT_FEED_RANGES) -> ContainerInfo:
        ds.validate_name("database", database)
        ds.validate_name("container", container)
        ds.validate_partition_key_path(partition_key_path)
        ds.validate_feed_ranges(feed_ranges)
        with self._open():
            found = self._containers.get((database, container))
            if found is None:
                db_rid = self._databases.setdefault(database, ds.new_database_rid())
                info = ContainerInfo(database, container, partition_key_path, feed_ranges,
                                     ds.new_container_rid(db_rid))
                found = self._containers[database, container] = _Container(info)
            return self._info(found)

    @staticmethod
    def _info(found: _Container) -> ContainerInfo:
        return replace(found.info, count=len(found.items))

    def get_container(self, database: str, container: str) -> ContainerInfo | None:
        with self._open():
            found = self._containers.get((database, container))
            return None if found is None else self._info(found)

    def list_containers(self) -> list[ContainerInfo]:
        with self._open():
            return [self._info(self._containers[key]) for key in sorted(self._containers)]

    def databases(self) -> list[str]:
        with self._open():
            return sorted(self._databases)

    def delete_container(self, database: str, container: str) -> bool:
        with self._open():
            return self._containers.pop((database, container), None) is not None

    def write(self, database: str, container: str, document: Mapping[str, Any], mode: WriteMode = "upsert",
              if_match: str | None = None) -> Document:
        with self._open() as now:
            found = self._container(database, container)
            info = found.info
            item_id, partition, body = ds.encode_item(database, container, document, info.partition_key_path)
            existing = found.items.get((partition, item_id))
            ds.check_write(database, container, item_id, mode, None if existing is None else existing.etag, if_match)
            if existing is None:
                found.created += 1
                rid = ds.item_rid(info.rid, found.created)
            else:
                rid = json.loads(existing.body)["_rid"]
            sequence = info.sequence + 1
            found.info = replace(info, sequence=sequence)
            etag = ds.new_document_etag()
            db_rid = self._databases[database]
            stored = ds.stamp(body, db_rid, info.rid, rid, etag, now)
            found.items[partition, item_id] = _Item(
                json.dumps(stored, separators=(",", ":")), etag, sequence,
                ds.feed_range_of(partition, info.feed_ranges), now,
            )
        return stored

    def read(self, database: str, container: str, item_id: str, partition_key: Any) -> Document | None:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        with self._open():
            item = self._container(database, container).items.get((partition, item_id))
            body = None if item is None else item.body
        return None if body is None else dict(json.loads(body))

    def delete(self, database: str, container: str, item_id: str, partition_key: Any,
               if_match: str | None = None) -> bool:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        with self._open():
            found = self._container(database, container)
            existing = found.items.get((partition, item_id))
            ds.check_delete(database, container, item_id, None if existing is None else existing.etag, if_match)
            return found.items.pop((partition, item_id), None) is not None

    def items(self, database: str, container: str, partition_key: Any = None, *, any_partition: bool = True,
              limit: int | None = None) -> list[Document]:
        partition = None if any_partition else ds.partition_text(partition_key, "the items' read")
        with self._open():
            rows = sorted(self._container(database, container).items.items())
        bodies = [item.body for (pk, _), item in rows if partition is None or pk == partition]
        return [dict(json.loads(body)) for body in bodies[:limit]]

    def query(self, database: str, container: str, query: str, parameters: Mapping[str, Any] | None = None,
              partition_key: Any = None, *, any_partition: bool = True) -> list[Any]:
        from overcast.backends.cosmos_sql import evaluate, parse_query

        parsed = parse_query(query)
        documents = self.items(database, container, partition_key, any_partition=any_partition)
        return evaluate(parsed, documents, parameters)

    def read_feed(self, database: str, container: str, feed_range: int | None, after: int,
                  limit: int | None = None) -> list[FeedItem]:
        with self._open():
            changed = sorted(
                (item.sequence, item.feed_range, item.body)
                for item in self._container(database, container).items.values()
                if item.sequence > after and (feed_range is None or item.feed_range == feed_range)
            )
        return [FeedItem(seq, rng, dict(json.loads(body))) for seq, rng, body in changed[:limit]]

    def sequence_before(self, database: str, container: str, since: float) -> int:
        with self._open():
            found = self._container(database, container)
            later = [item.sequence for item in found.items.values() if item.ts >= since]
            if later:
                return min(later) - 1
            return found.info.sequence
