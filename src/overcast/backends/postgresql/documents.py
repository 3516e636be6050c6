"""PostgresDocumentStore: Cosmos DB containers in PostgreSQL, shared by instances on many machines.

The same rows as the SQLite store (``body`` is the item's JSON text as returned; ``doc`` the same as ``jsonb`` for
queries). A write locks its container's row (``FOR UPDATE``) for the change sequence number, so writes to one
container are numbered in commit order and the change feed never skips one committed later with a lower number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import psycopg

from overcast.backends import documents_store as ds
from overcast.backends.base import Clock
from overcast.backends.documents_store import ContainerInfo, Document, FeedItem, WriteMode
from overcast.backends.postgresql.notify import NotifyingStore

Conn = psycopg.Connection[Any]
_CONTAINER = ("SELECT c.rid, c.pk_path, c.ranges, c.seq, c.created, d.rid FROM cosmos_containers c "
              "JOIN cosmos_databases d ON d.name = c.db WHERE c.db = %s AND c.name = %s")


def _loads(text: str) -> Document:
    found: Document = json.loads(text)
    return found


class PostgresDocumentStore(NotifyingStore):
    """Implements DocumentStore."""

    kind = "document store"
    channel = "overcast_documents"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def create_container(self, database: str, container: str,
                         partition_key_path: str = ds.DEFAULT_PARTITION_KEY_PATH,
                         feed_ranges: int = ds.DEFAULT_FEED_RANGES) -> ContainerInfo:
        ds.validate_name("database", database)
        ds.validate_name("container", container)
        ds.validate_partition_key_path(partition_key_path)
        ds.validate_feed_ranges(feed_ranges)
        with self._connection(f"create container '{database}/{container}'") as conn, conn.transaction():
            conn.execute("INSERT INTO cosmos_databases (name, rid) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (database, ds.new_database_rid()))
            row = conn.execute("SELECT rid FROM cosmos_databases WHERE name = %s", (database,)).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO cosmos_containers (db, name, rid, pk_path, ranges, seq, created) "
                "VALUES (%s, %s, %s, %s, %s, 0, 0) ON CONFLICT DO NOTHING",
                (database, container, ds.new_container_rid(row[0]), partition_key_path, feed_ranges),
            )
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
        return [ContainerInfo(db, name, path, int(ranges), rid, int(count), int(seq))
                for db, name, path, ranges, rid, count, seq in rows]

    def get_container(self, database: str, container: str) -> ContainerInfo | None:
        found = self._infos("WHERE c.db = %s AND c.name = %s", (database, container))
        return found[0] if found else None

    def list_containers(self) -> list[ContainerInfo]:
        return self._infos("", ())

    def databases(self) -> list[str]:
        with self._connection("list databases") as conn:
            return [str(row[0]) for row in conn.execute("SELECT name FROM cosmos_databases ORDER BY name")]

    def delete_container(self, database: str, container: str) -> bool:
        with self._connection(f"delete container '{database}/{container}'") as conn, conn.transaction():
            conn.execute("DELETE FROM cosmos_items WHERE db = %s AND coll = %s", (database, container))
            cursor = conn.execute("DELETE FROM cosmos_containers WHERE db = %s AND name = %s",
                                  (database, container))
        return cursor.rowcount == 1

    def write(self, database: str, container: str, document: Mapping[str, Any], mode: WriteMode = "upsert",
              if_match: str | None = None) -> Document:
        with self._connection(f"write to container '{database}/{container}'") as conn, conn.transaction():
            row = conn.execute(_CONTAINER + " FOR UPDATE OF c", (database, container)).fetchone()
            if row is None:
                raise ds.missing_container(database, container)
            coll_rid, path, ranges, sequence, created, db_rid = row
            item_id, partition, body = ds.encode_item(database, container, document, path)
            existing = conn.execute(
                "SELECT etag, rid FROM cosmos_items WHERE db = %s AND coll = %s AND pk = %s AND id = %s",
                (database, container, partition, item_id),
            ).fetchone()
            ds.check_write(database, container, item_id, mode, None if existing is None else existing[0],
                           if_match)
            if existing is None:
                created += 1
                rid = ds.item_rid(coll_rid, created)
            else:
                rid = existing[1]
            sequence += 1
            now = self._clock()
            etag = ds.new_document_etag()
            stored = ds.stamp(body, db_rid, coll_rid, rid, etag, now)
            text = json.dumps(stored, separators=(",", ":"))
            conn.execute("UPDATE cosmos_containers SET seq = %s, created = %s WHERE db = %s AND name = %s",
                         (sequence, created, database, container))
            conn.execute(
                "INSERT INTO cosmos_items (db, coll, pk, id, rng, seq, ts, etag, rid, body, doc) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (db, coll, pk, id) "
                "DO UPDATE SET seq = excluded.seq, ts = excluded.ts, etag = excluded.etag, "
                "body = excluded.body, doc = excluded.doc",
                (database, container, partition, item_id, ds.feed_range_of(partition, ranges), sequence, now,
                 etag, rid, text, text),
            )
            self._changed(conn, f"{database}/{container}")
        return stored

    @staticmethod
    def _require(conn: Conn, database: str, container: str) -> None:
        if conn.execute("SELECT 1 FROM cosmos_containers WHERE db = %s AND name = %s",
                        (database, container)).fetchone() is None:
            raise ds.missing_container(database, container)

    def read(self, database: str, container: str, item_id: str, partition_key: Any) -> Document | None:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        with self._connection(f"read from container '{database}/{container}'") as conn:
            row = conn.execute("SELECT body FROM cosmos_items WHERE db = %s AND coll = %s AND pk = %s AND id = %s",
                               (database, container, partition, item_id)).fetchone()
            if row is None:
                self._require(conn, database, container)
        return None if row is None else _loads(row[0])

    def delete(self, database: str, container: str, item_id: str, partition_key: Any,
               if_match: str | None = None) -> bool:
        partition = ds.partition_text(partition_key, f"item {item_id!r}")
        key = (database, container, partition, item_id)
        with self._connection(f"delete from container '{database}/{container}'") as conn, conn.transaction():
            self._require(conn, database, container)
            row = conn.execute("SELECT etag FROM cosmos_items WHERE db = %s AND coll = %s AND pk = %s "
                               "AND id = %s FOR UPDATE", key).fetchone()
            ds.check_delete(database, container, item_id, None if row is None else row[0], if_match)
            cursor = conn.execute("DELETE FROM cosmos_items WHERE db = %s AND coll = %s AND pk = %s AND id = %s",
                                  key)
        return cursor.rowcount == 1

    def items(self, database: str, container: str, partition_key: Any = None, *, any_partition: bool = True,
              limit: int | None = None) -> list[Document]:
        where, args = "db = %s AND coll = %s", [database, container]
        if not any_partition:
            where, args = where + " AND pk = %s", [*args, ds.partition_text(partition_key, "the items' read")]
        with self._connection(f"read container '{database}/{container}'") as conn:
            self._require(conn, database, container)
            rows = conn.execute(f"SELECT body FROM cosmos_items WHERE {where} ORDER BY pk, id LIMIT %s",
                                (*args, limit)).fetchall()
        return [_loads(row[0]) for row in rows]

    def query(self, database: str, container: str, query: str, parameters: Mapping[str, Any] | None = None,
              partition_key: Any = None, *, any_partition: bool = True) -> list[Any]:
        from overcast.backends.cosmos_sql import compile_postgresql

        # The database filters, sorts and pages (as SQLite does); without ORDER BY, rows come in the order of
        # the items' read. Filters read the jsonb column, whole documents come from the text as written.
        scope = "cq_t.db = %(cq_scope_db)s AND cq_t.coll = %(cq_scope_coll)s"
        if not any_partition:
            scope += " AND cq_t.pk = %(cq_scope_pk)s"
        compiled = compile_postgresql(query, parameters, "doc", table="(SELECT * FROM cosmos_items ORDER BY pk, id)",
                                      scope=scope, string_columns={"id": "id"}, document_column="body")
        params: dict[str, Any] = {**compiled.params, "cq_scope_db": database, "cq_scope_coll": container}
        if not any_partition:
            params["cq_scope_pk"] = ds.partition_text(partition_key, "the query's partition")
        with self._connection(f"query container '{database}/{container}'") as conn:
            self._require(conn, database, container)
            rows = conn.execute(compiled.sql, params).fetchall()
        return compiled.results(rows)

    def read_feed(self, database: str, container: str, feed_range: int | None, after: int,
                  limit: int | None = None) -> list[FeedItem]:
        where, args = "db = %s AND coll = %s AND seq > %s", [database, container, after]
        if feed_range is not None:
            where, args = where + " AND rng = %s", [*args, feed_range]
        with self._connection(f"read the change feed of '{database}/{container}'") as conn:
            rows = conn.execute(f"SELECT seq, rng, body FROM cosmos_items WHERE {where} ORDER BY seq LIMIT %s",
                                (*args, limit)).fetchall()
            if not rows:
                self._require(conn, database, container)
        return [FeedItem(int(seq), int(rng), _loads(body)) for seq, rng, body in rows]

    def sequence_before(self, database: str, container: str, since: float) -> int:
        with self._connection(f"read the change feed of '{database}/{container}'") as conn:
            self._require(conn, database, container)
            row = conn.execute("SELECT MIN(seq) FROM cosmos_items WHERE db = %s AND coll = %s AND ts >= %s",
                               (database, container, since)).fetchone()
            if row is not None and row[0] is not None:
                return int(row[0]) - 1
            found = conn.execute("SELECT seq FROM cosmos_containers WHERE db = %s AND name = %s",
                                 (database, container)).fetchone()
        assert found is not None
        return int(found[0])
