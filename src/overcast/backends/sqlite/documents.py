"""SqliteDocumentStore: Cosmos DB containers in ``overcast.db``, shared by every instance process.

An item is one row keyed by (database, container, partition key, id) with its JSON in ``body`` (system properties
included, so queries see ``_ts`` as on the service). Each write takes the container's next change sequence number in
the same transaction, so the change feed (items ordered by ``seq``, one feed range or all) never misses a write
committed by another process, and an update moves the item to the feed's end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overcast.backends import documents_store as ds
from overcast.backends.base import Clock
from overcast.backends.changes import HeardInProcess
from overcast.backends.documents_store import ContainerInfo, Document, FeedItem, WriteMode
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

DOCUMENT_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS cosmos_databases (name TEXT PRIMARY KEY, rid TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cosmos_containers (db TEXT NOT NULL, name TEXT NOT NULL, rid TEXT NOT NULL, "
    "pk_path TEXT NOT NULL, ranges INTEGER NOT NULL, seq INTEGER NOT NULL, created INTEGER NOT NULL, "
    "PRIMARY KEY (db, name))",
    "CREATE TABLE IF NOT EXISTS cosmos_items (db TEXT NOT NULL, coll TEXT NOT NULL, pk TEXT NOT NULL, "
    "id TEXT NOT NULL, rng INTEGER NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, etag TEXT NOT NULL, "
    "rid TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (db, coll, pk, id))",
    "CREATE INDEX IF NOT EXISTS cosmos_items_feed ON cosmos_items (db, coll, seq)",
    "CREATE INDEX IF NOT EXISTS cosmos_items_range_feed ON cosmos_items (db, coll, rng, seq)",
]
_CONTAINER = ("SELECT c.rid, c.pk_path, c.ranges, c.seq, c.created, d.rid FROM cosmos_containers c "
              "JOIN cosmos_databases d ON d.name = c.db WHERE c.db = ? AND c.name = ?")


def _loads(text: str) -> Document:
    found: Document = json.loads(text)
    return found


class SqliteDocumentStore(SqliteDatabase, HeardInProcess):
    """Implements DocumentStore."""

    kind = "document store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *DOCUMENT_SCHEMA])
        self._clock = clock

    def create_container(self, database: str, container: str,
                         partition_key_path: str = ds.DEFAULT_PARTITION_KEY_PATH,
                         feed_ranges: int = ds.DEFAULT_FEED_RANGES) -> ContainerInfo:
        ds.validate_name("database", database)
        ds.validate_name("container", container)
        ds.validate_partition_key_path(partition_key_path)
        ds.validate_feed_ranges(feed_ranges)
        with self._connection(f"create container '{database}/{container}'") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO cosmos_databases (name, rid) VALUES (?, ?)",
                         (database, ds.new_database_rid()))
            db_rid = conn.execute("SELECT rid FROM cosmos_databases WHERE name = ?", (database,)).fetchone()[0]
            conn.execute(
                "INSERT OR IGNORE INTO cosmos_containers (db, name, rid, pk_path, ranges, seq, created) "
                "VALUES (?, ?, ?, ?, ?, 0, 0)",
                (database, container, ds.new_container_rid(db_rid), partition_key_path, feed_ranges),
            )
            conn.execute("COMMIT")
        found = self.get_container(database, container)
        assert found is not None  # created above, and containers are deleted only by delete_container
        return found

    def _infos(self, where: str, args: tuple[Any, ...]) -> list[ContainerInfo]:
        with self._connection("list containers") as conn:
            rows = conn.execute(
                "SELECT c.db, c.name, c.pk_path, c.ranges, c.rid, "
                "(SELECT COUNT(*) FROM cosmos_items i WHERE i.db = c.db AND i.coll = c.name), c.seq "
                f"FROM cosmos_containers c {where} ORDER BY c.db, c.name", args,
            ).fetchall()
        return [ContainerInfo(*row) for row in rows]

    def get_container(self, database: str, container: str) -> ContainerInfo | None:
        found = self._infos("WHERE c.db = ? AND c.name = ?", (database, container))
        return found[0] if found else None

    def list_containers(self) -> list[ContainerInfo]:
        return self._infos("", ())

    def databases(self) -> list[str]:
        with self._connection("list databases") as conn:
            return [str(row[0]) for row in conn.execute("SELECT name FROM cosmos_databases ORDER BY name")]

    def delete_container(self, database: str, container: str) -> bool:
        with self._connection(f"delete container '{database}/{container}'") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM cosmos_items WHERE db = ? AND coll = ?", (database, container))
            cursor = conn.execute("DELETE FROM cosmos_containers WHERE db = ? AND name = ?", (database, container))
            conn.execute("COMMIT")
        return cursor.rowcount == 1

    def write(self, database: str, container: str, document: Mapping[str, Any], mode: WriteMode = "upsert",
              if_match: str | None = None) -> Document:
        with self._connection(f"write to container '{database}/{container}'") as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(_CONTAINER, (database, container)).fetchone()
            if row is None:
                raise ds.missing_container(database, container)
            coll_rid, path, ranges, sequence, created, db_rid = row
            item_id, partition, body = ds.encode_item(database, container, document, path)
            existing = conn.execute(
                "SELECT etag, rid FROM cosmos_items WHERE db = ? AND coll = ? AND pk = ? AND id = ?",
                (database, container, partition, item_id),
            ).fetchone()
            ds.check_write(database, container, item_id, mode, None if existing is None else existing[0], if_match)
            if existing is None:
                created += 1
                rid = ds.item_rid(coll_rid, created)
            else:
                rid = existing[1]
            sequence += 1
            now = self._clock()
            etag = ds.new_document_etag()
            stored = ds.stamp(body, db_rid, coll_rid, rid, etag, now)
            conn.execute("UPDATE cosmos_containers SET seq = ?, created = ? WHERE db = ? AND name = ?",
                         (sequence, created, database, container))
            conn.execute(
                "INSERT INTO cosmos_items (db, coll, pk, id, rng, seq, ts, etag, rid, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (db, coll, pk, id) DO UPDATE SET "
                "seq = excluded.seq, ts = excluded.ts, etag = excluded.etag, body = excluded.body",
                (database, container, partition, item_id, ds.feed_range_of(partition, ranges), sequence, now, etag,
                 rid, json.dumps(stored, separators=(",", ":"))),
            )
            conn.execute("COMMIT")
        return stored

    def _require(self, conn: Any, database: str, container: str) -> None:
        if conn.execute("SELECT 1 FROM cosmos_containers WHERE db = ? AND name = ?",
                        (database, container)).fetchone() is None:
            raise ds.missing_container(database, container)

    def read(self, database: str, container: str, item_id: str, partition_key: Any) -> Document | None:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        with self._connection(f"read from container '{database}/{container}'") as conn:
            row = conn.execute("SELECT body FROM cosmos_items WHERE db = ? AND coll = ? AND pk = ? AND id = ?",
                               (database, container, partition, item_id)).fetchone()
            if row is None:
                self._require(conn, database, container)
        return None if row is None else _loads(row[0])

    def delete(self, database: str, container: str, item_id: str, partition_key: Any,
               if_match: str | None = None) -> bool:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        with self._connection(f"delete from container '{database}/{container}'") as conn:
            conn.execute("BEGIN IMMEDIATE")
            self._require(conn, database, container)
            key = (database, container, partition, item_id)
            row = conn.execute("SELECT etag FROM cosmos_items WHERE db = ? AND coll = ? AND pk = ? AND id = ?",
                               key).fetchone()
            ds.check_delete(database, container, item_id, None if row is None else row[0], if_match)
            cursor = conn.execute("DELETE FROM cosmos_items WHERE db = ? AND coll = ? AND pk = ? AND id = ?", key)
            conn.execute("COMMIT")
        return cursor.rowcount == 1

    def items(self, database: str, container: str, partition_key: Any = None, *, any_partition: bool = True,
              limit: int | None = None) -> list[Document]:
        where, args = "db = ? AND coll = ?", [database, container]
        if not any_partition:
            where, args = where + " AND pk = ?", [*args, ds.partition_text(partition_key, "the items' read")]
        with self._connection(f"read container '{database}/{container}'") as conn:
            self._require(conn, database, container)
            rows = conn.execute(f"SELECT body FROM cosmos_items WHERE {where} ORDER BY pk, id LIMIT ?",
                                (*args, -1 if limit is None else limit)).fetchall()
        return [_loads(row[0]) for row in rows]

    def query(self, database: str, container: str, query: str, parameters: Mapping[str, Any] | None = None,
              partition_key: Any = None, *, any_partition: bool = True) -> list[Any]:
        from overcast.backends.cosmos_sql import compile_sqlite

        scope = "cq_t.db = :cq_scope_db AND cq_t.coll = :cq_scope_coll"
        if not any_partition:
            scope += " AND cq_t.pk = :cq_scope_pk"
        # Compiled (and checked) before the connection is taken: a query outside the subset never touches the store.
        compiled = compile_sqlite(query, parameters, "body", table="cosmos_items", scope=scope,
                                  string_columns={"id": "id"})
        params: dict[str, Any] = {**compiled.params, "cq_scope_db": database, "cq_scope_coll": container}
        if not any_partition:
            params["cq_scope_pk"] = ds.partition_text(partition_key, "the query's partition")
        with self._connection(f"query container '{database}/{container}'") as conn:
            self._require(conn, database, container)
            rows = conn.execute(compiled.sql, params).fetchall()
        return compiled.results(rows)

    def read_feed(self, database: str, container: str, feed_range: int | None, after: int,
                  limit: int | None = None) -> list[FeedItem]:
        where, args = "db = ? AND coll = ? AND seq > ?", [database, container, after]
        if feed_range is not None:
            where, args = where + " AND rng = ?", [*args, feed_range]
        with self._connection(f"read the change feed of '{database}/{container}'") as conn:
            rows = conn.execute(f"SELECT seq, rng, body FROM cosmos_items WHERE {where} ORDER BY seq LIMIT ?",
                                (*args, -1 if limit is None else limit)).fetchall()
            if not rows:
                self._require(conn, database, container)
        return [FeedItem(seq, rng, _loads(body)) for seq, rng, body in rows]

    def sequence_before(self, database: str, container: str, since: float) -> int:
        with self._connection(f"read the change feed of '{database}/{container}'") as conn:
            self._require(conn, database, container)
            row = conn.execute("SELECT MIN(seq) FROM cosmos_items WHERE db = ? AND coll = ? AND ts >= ?",
                               (database, container, since)).fetchone()
            if row[0] is not None:
                return int(row[0]) - 1
            found = conn.execute("SELECT seq FROM cosmos_containers WHERE db = ? AND name = ?",
                                 (database, container)).fetchone()
        return int(found[0])
