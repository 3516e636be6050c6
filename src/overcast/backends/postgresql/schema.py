"""The PostgreSQL schema, versioned: every table every store needs, created and migrated at start.

The tables live in the connection's current schema (the first of its ``search_path``; the URL may choose one with
``?options=-csearch_path%3Dmyschema``, which is created when missing). ``overcast_schema`` records the versions
applied. Many instances may start at once: each takes a session advisory lock (keyed by the schema's name) before
migrating, checks the version again under it, and applies what is missing, each version in one transaction; the
others wait, then find nothing to do. A process checks once per URL.

Every text key is ``COLLATE "C"``: comparisons and ``ORDER BY`` are then by code point, the Azure order the other
backends use, and the range scans that replace ``LIKE`` for literal prefixes stay exact whatever the database's
default collation is. Times are seconds since the epoch (double precision), as the stores' clocks give them.
Host-scoped rows (state: keys, timer status, blob receipts; leases) carry ``scope``: the app's host id, so that two
apps on one database never share them. State values are UTF-8 in BYTEA: a value may hold NUL, which TEXT
refuses.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import sql

from overcast.backends.postgresql.messages import explain, redact
from overcast.errors import StoreError

C = 'COLLATE "C"'

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "every store: state, queues, blobs, tables, leases, durable", [
        f"CREATE TABLE state (scope TEXT {C} NOT NULL DEFAULT '', key TEXT {C} NOT NULL, value BYTEA NOT NULL, "
        "updated DOUBLE PRECISION, PRIMARY KEY (scope, key))",
        f"CREATE TABLE queues (name TEXT {C} PRIMARY KEY)",
        f"CREATE TABLE queue_messages (seq BIGSERIAL PRIMARY KEY, id TEXT {C} NOT NULL UNIQUE, "
        f"queue TEXT {C} NOT NULL, body BYTEA NOT NULL, dequeue_count INTEGER NOT NULL DEFAULT 0, "
        "inserted DOUBLE PRECISION NOT NULL, "
        "expires DOUBLE PRECISION NOT NULL, visible DOUBLE PRECISION NOT NULL, receipt TEXT)",
        "CREATE INDEX queue_messages_visible ON queue_messages (queue, visible, inserted, seq)",
        f"CREATE TABLE blob_containers (name TEXT {C} PRIMARY KEY)",
        f"CREATE TABLE blobs (container TEXT {C} NOT NULL, name TEXT {C} NOT NULL, length BIGINT NOT NULL, "
        "etag TEXT NOT NULL, last_modified DOUBLE PRECISION NOT NULL, content_type TEXT NOT NULL, "
        "metadata TEXT NOT NULL, content UUID NOT NULL, PRIMARY KEY (container, name))",
        "CREATE TABLE blob_chunks (content UUID NOT NULL, seq INTEGER NOT NULL, data BYTEA NOT NULL, "
        "PRIMARY KEY (content, seq))",
        f"CREATE TABLE table_entities (tbl TEXT {C} NOT NULL, pk TEXT {C} NOT NULL, rk TEXT {C} NOT NULL, "
        "properties TEXT NOT NULL, timestamp DOUBLE PRECISION NOT NULL, PRIMARY KEY (tbl, pk, rk))",
        f"CREATE TABLE leases (scope TEXT {C} NOT NULL DEFAULT '', name TEXT {C} NOT NULL, owner TEXT NOT NULL, "
        "expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, name))",
        f"CREATE TABLE durable_instances (hub TEXT {C} NOT NULL, instance_id TEXT {C} NOT NULL, name TEXT NOT NULL, "
        "version TEXT, execution_id TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT, "
        "custom_status TEXT, created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL, "
        "parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER, parent_name TEXT, "
        "history_length INTEGER NOT NULL, PRIMARY KEY (hub, instance_id))",
        "CREATE INDEX durable_instances_created ON durable_instances (hub, created)",
        f"CREATE TABLE durable_history (hub TEXT {C} NOT NULL, instance_id TEXT {C} NOT NULL, seq INTEGER NOT NULL, "
        "event TEXT NOT NULL, PRIMARY KEY (hub, instance_id, seq))",
        f"CREATE TABLE durable_inbox (id BIGSERIAL PRIMARY KEY, hub TEXT {C} NOT NULL, instance_id TEXT {C} NOT NULL, "
        "is_entity BOOLEAN NOT NULL, execution_id TEXT, event TEXT NOT NULL, visible DOUBLE PRECISION NOT NULL, "
        "wakes BOOLEAN NOT NULL, created DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX durable_inbox_ready ON durable_inbox (hub, is_entity, visible, id)",
        "CREATE INDEX durable_inbox_target ON durable_inbox (hub, instance_id, visible, id)",
        f"CREATE TABLE durable_leases (hub TEXT {C} NOT NULL, instance_id TEXT {C} NOT NULL, owner TEXT NOT NULL, "
        "token TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (hub, instance_id))",
        f"CREATE TABLE durable_activities (id BIGSERIAL PRIMARY KEY, hub TEXT {C} NOT NULL, "
        f"instance_id TEXT {C} NOT NULL, execution_id TEXT NOT NULL, name TEXT NOT NULL, task_id INTEGER NOT NULL, "
        "input TEXT, created DOUBLE PRECISION NOT NULL, visible DOUBLE PRECISION NOT NULL, "
        "owner TEXT NOT NULL DEFAULT '', token TEXT NOT NULL DEFAULT '', dequeue_count INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX durable_activities_ready ON durable_activities (hub, visible, id)",
        "CREATE INDEX durable_activities_instance ON durable_activities (hub, instance_id)",
        f"CREATE TABLE durable_entities (hub TEXT {C} NOT NULL, entity_id TEXT {C} NOT NULL, state TEXT NOT NULL, "
        "updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (hub, entity_id))",
    ]),
    (2, "Service Bus entities, messages, sessions, duplicate detection", [
        f"CREATE TABLE sb_entities (path TEXT {C} PRIMARY KEY, kind TEXT NOT NULL, properties TEXT NOT NULL, "
        "rules TEXT NOT NULL, next_seq BIGINT NOT NULL)",
        f"CREATE TABLE sb_messages (entity TEXT {C} NOT NULL, seq BIGINT NOT NULL, dead INTEGER NOT NULL, "
        "session_id TEXT, available DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION, deliveries INTEGER NOT NULL, "
        "token TEXT, locked_until DOUBLE PRECISION, enqueued DOUBLE PRECISION NOT NULL, body BYTEA NOT NULL, "
        "properties TEXT NOT NULL, reason TEXT, description TEXT, source TEXT, PRIMARY KEY (entity, seq))",
        "CREATE INDEX sb_messages_order ON sb_messages (entity, dead, seq)",
        "CREATE INDEX sb_messages_token ON sb_messages (token)",
        f"CREATE TABLE sb_sessions (entity TEXT {C} NOT NULL, session_id TEXT {C} NOT NULL, token TEXT NOT NULL, "
        "locked_until DOUBLE PRECISION NOT NULL, PRIMARY KEY (entity, session_id))",
        f"CREATE TABLE sb_seen (entity TEXT {C} NOT NULL, message_id TEXT {C} NOT NULL, "
        "seen DOUBLE PRECISION NOT NULL, PRIMARY KEY (entity, message_id))",
    ]),
    (3, "Queue and Table service objects: queue metadata, tables created through the API", [
        f"CREATE TABLE queue_metadata (name TEXT {C} PRIMARY KEY, metadata TEXT NOT NULL)",
        # tbl is the lower-cased name (the key, as in table_entities); name keeps the case it was created with.
        f"CREATE TABLE service_tables (tbl TEXT {C} PRIMARY KEY, name TEXT NOT NULL)",
    ]),
    (4, "Event Hubs: hubs, consumer groups, partitions, events, checkpoints, ownership", [
        f"CREATE TABLE eh_hubs (hub TEXT {C} PRIMARY KEY, name TEXT NOT NULL, partitions INTEGER NOT NULL, "
        "retention DOUBLE PRECISION NOT NULL, created DOUBLE PRECISION NOT NULL, "
        "round_robin BIGINT NOT NULL DEFAULT 0)",
        f"CREATE TABLE eh_groups (hub TEXT {C} NOT NULL, grp TEXT {C} NOT NULL, name TEXT NOT NULL, "
        "PRIMARY KEY (hub, grp))",
        f"CREATE TABLE eh_partitions (hub TEXT {C} NOT NULL, part INTEGER NOT NULL, next_seq BIGINT NOT NULL, "
        "next_offset BIGINT NOT NULL, PRIMARY KEY (hub, part))",
        f"CREATE TABLE eh_events (hub TEXT {C} NOT NULL, part INTEGER NOT NULL, seq BIGINT NOT NULL, "
        "off BIGINT NOT NULL, enqueued DOUBLE PRECISION NOT NULL, pkey TEXT, props TEXT NOT NULL, body BYTEA NOT NULL, "
        "PRIMARY KEY (hub, part, seq))",
        f"CREATE TABLE eh_checkpoints (hub TEXT {C} NOT NULL, grp TEXT {C} NOT NULL, part TEXT {C} NOT NULL, "
        "seq BIGINT NOT NULL, off TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (hub, grp, part))",
        f"CREATE TABLE eh_ownership (hub TEXT {C} NOT NULL, grp TEXT {C} NOT NULL, part TEXT {C} NOT NULL, "
        "owner TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (hub, grp, part))",
    ]),
    (5, "Event Grid local topics: inbox, deliveries, dead letters", [
        f"CREATE TABLE eventgrid_inbox (seq BIGSERIAL PRIMARY KEY, topic TEXT {C} NOT NULL, event TEXT NOT NULL, "
        "published DOUBLE PRECISION NOT NULL)",
        f"CREATE TABLE eventgrid_deliveries (id TEXT {C} PRIMARY KEY, seq BIGINT NOT NULL, topic TEXT {C} NOT NULL, "
        f"subscription TEXT {C} NOT NULL, event TEXT NOT NULL, published DOUBLE PRECISION NOT NULL, "
        "expires DOUBLE PRECISION NOT NULL, due DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        "last_error TEXT NOT NULL DEFAULT '', last_status INTEGER, receipt TEXT)",
        "CREATE INDEX eventgrid_deliveries_due ON eventgrid_deliveries (due, seq)",
        f"CREATE TABLE eventgrid_dead (id TEXT {C} PRIMARY KEY, topic TEXT {C} NOT NULL, "
        f"subscription TEXT {C} NOT NULL, event TEXT NOT NULL, published DOUBLE PRECISION NOT NULL, "
        "attempts INTEGER NOT NULL, reason TEXT NOT NULL, last_error TEXT NOT NULL, last_status INTEGER, "
        "dead_at DOUBLE PRECISION NOT NULL)",
    ]),
    (6, "Blob API: container and blob documents, staged blocks", [
        f"CREATE TABLE blob_api_containers (name TEXT {C} PRIMARY KEY, doc TEXT NOT NULL)",
        f"CREATE TABLE blob_api_docs (container TEXT {C} NOT NULL, name TEXT {C} NOT NULL, etag TEXT NOT NULL, "
        "doc TEXT NOT NULL, PRIMARY KEY (container, name))",
        f"CREATE TABLE blob_api_blocks (container TEXT {C} NOT NULL, name TEXT {C} NOT NULL, "
        f"block_id TEXT {C} NOT NULL, seq BIGSERIAL, data BYTEA NOT NULL, PRIMARY KEY (container, name, block_id))",
    ]),
    (7, "Cosmos DB databases, containers and items with their change sequence", [
        f"CREATE TABLE cosmos_databases (name TEXT {C} PRIMARY KEY, rid TEXT NOT NULL)",
        f"CREATE TABLE cosmos_containers (db TEXT {C} NOT NULL, name TEXT {C} NOT NULL, rid TEXT NOT NULL, "
        "pk_path TEXT NOT NULL, ranges INTEGER NOT NULL, seq BIGINT NOT NULL, created BIGINT NOT NULL, "
        "PRIMARY KEY (db, name))",
        f"CREATE TABLE cosmos_items (db TEXT {C} NOT NULL, coll TEXT {C} NOT NULL, pk TEXT {C} NOT NULL, "
        f"id TEXT {C} NOT NULL, rng INTEGER NOT NULL, seq BIGINT NOT NULL, ts DOUBLE PRECISION NOT NULL, "
        "etag TEXT NOT NULL, rid TEXT NOT NULL, body TEXT NOT NULL, doc JSONB NOT NULL, "
        "PRIMARY KEY (db, coll, pk, id))",
        "CREATE INDEX cosmos_items_feed ON cosmos_items (db, coll, seq)",
        "CREATE INDEX cosmos_items_range_feed ON cosmos_items (db, coll, rng, seq)",
    ]),
    (8, "Durable: the few Suspended instances, for the claim to skip (the one index a planner always picks for it)", [
        "CREATE INDEX durable_instances_suspended ON durable_instances (hub, instance_id) WHERE status = 'Suspended'",
    ]),
    (9, "Blob API: staged blocks keep their content in blob_chunks", [
        "ALTER TABLE blob_api_blocks ADD COLUMN content UUID, ADD COLUMN size BIGINT",
        "UPDATE blob_api_blocks SET size = octet_length(data), "
        "content = md5(container || '/' || name || '/' || block_id || random()::text)::uuid",
        "INSERT INTO blob_chunks (content, seq, data) SELECT content, 0, data FROM blob_api_blocks",
        "ALTER TABLE blob_api_blocks DROP COLUMN data, ALTER COLUMN content SET NOT NULL, "
        "ALTER COLUMN size SET NOT NULL",
    ]),
]
LATEST = MIGRATIONS[-1][0]
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS overcast_schema (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "applied TIMESTAMPTZ NOT NULL DEFAULT now())"
)

_checked: set[str] = set()
_checked_lock = threading.Lock()


def _schema_name(conn: psycopg.Connection[Any]) -> tuple[str, bool]:
    """The schema the tables live in (the first of the search path) and whether it exists yet."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is not None and row[0] is not None:
        return str(row[0]), True
    setting = conn.execute("SELECT current_setting('search_path')").fetchone()
    first = str(setting[0] if setting else "").split(",")[0].strip().strip('"')
    if not first or first == "$user":
        raise psycopg.errors.InvalidSchemaName("the search_path names no schema to create Overcast's tables in")
    return first, False


def applied_version(conn: psycopg.Connection[Any]) -> int:
    """The latest version applied in the current schema; 0 when Overcast's tables are not there yet."""
    row = conn.execute("SELECT to_regclass('overcast_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT COALESCE(MAX(version), 0) FROM overcast_schema").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply every missing version under the advisory lock; the versions this call applied (autocommit conn)."""
    schema, exists = _schema_name(conn)
    if exists and applied_version(conn) >= LATEST:
        return []
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"overcast.schema:{schema}",))
    try:
        if not exists:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        done = applied_version(conn)  # again: another instance may have migrated while we waited
        applied = []
        for version, description, statements in MIGRATIONS:
            if version <= done:
                continue
            with conn.transaction():
                conn.execute(_VERSION_TABLE)
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO overcast_schema (version, description) VALUES (%s, %s)",
                             (version, description))
            applied.append(version)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"overcast.schema:{schema}",))


def ensure_schema(conn: psycopg.Connection[Any], url: str) -> None:
    """Migrate once per URL and process; StoreError-free: driver errors propagate to the caller's translation."""
    if url in _checked:
        return
    migrate_now(conn, url)
    with _checked_lock:
        _checked.add(url)


def status(conn: psycopg.Connection[Any], url: str) -> tuple[str, int, int]:
    """(schema, version applied, latest version); StoreError when the server refuses the reads."""
    try:
        schema, exists = _schema_name(conn)
        return schema, applied_version(conn) if exists else 0, LATEST
    except psycopg.Error as exc:
        where = redact(url)
        raise StoreError(f"PostgreSQL at {where}: cannot read Overcast's schema version ({explain(exc)}).") from exc


def migrate_now(conn: psycopg.Connection[Any], url: str) -> list[int]:
    """``migrate`` with its errors as StoreError (one line, no password)."""
    try:
        return migrate(conn)
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {redact(url)}: cannot create Overcast's tables ({explain(exc)}).") from exc
