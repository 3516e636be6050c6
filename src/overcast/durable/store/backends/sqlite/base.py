"""The durable tables in ``overcast.db`` and the writes every part of the SQLite durable store shares.

Every write that must be atomic runs in one ``BEGIN IMMEDIATE`` transaction: it takes the database's write lock up
front, so another process can never slip between our read (is the lease still ours? is the history unchanged?) and
our write. Events are stored as compact JSON text, one history row per event.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from overcast.backends.base import Clock
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase
from overcast.durable.store import (
    ACTIVE_STATUSES,
    PENDING,
    EventDict,
    InboxMessage,
    InstanceRecord,
    Lease,
    NewMessage,
    NewOrchestration,
    ParentRef,
    is_entity_id,
)
from overcast.durable.store.backends.common import decode_event, wakes_suspended

DURABLE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS durable_instances (hub TEXT NOT NULL, instance_id TEXT NOT NULL, "
    "name TEXT NOT NULL, version TEXT, execution_id TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT, "
    "custom_status TEXT, created REAL NOT NULL, updated REAL NOT NULL, parent_instance_id TEXT, "
    "parent_execution_id TEXT, parent_task_id INTEGER, parent_name TEXT, history_length INTEGER NOT NULL, "
    "PRIMARY KEY (hub, instance_id))",
    "CREATE INDEX IF NOT EXISTS durable_instances_created ON durable_instances (hub, created)",
    "CREATE TABLE IF NOT EXISTS durable_history (hub TEXT NOT NULL, instance_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (hub, instance_id, seq))",
    # AUTOINCREMENT: message ids never come back after a delete, so a stale id can never name a newer message.
    "CREATE TABLE IF NOT EXISTS durable_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, "
    "instance_id TEXT NOT NULL, is_entity INTEGER NOT NULL, execution_id TEXT, event TEXT NOT NULL, "
    "visible REAL NOT NULL, wakes INTEGER NOT NULL, created REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS durable_inbox_ready ON durable_inbox (hub, is_entity, visible, id)",
    "CREATE INDEX IF NOT EXISTS durable_inbox_target ON durable_inbox (hub, instance_id, visible, id)",
    "CREATE TABLE IF NOT EXISTS durable_leases (hub TEXT NOT NULL, instance_id TEXT NOT NULL, owner TEXT NOT NULL, "
    "token TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (hub, instance_id))",
    "CREATE TABLE IF NOT EXISTS durable_activities (id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, "
    "instance_id TEXT NOT NULL, execution_id TEXT NOT NULL, name TEXT NOT NULL, task_id INTEGER NOT NULL, "
    "input TEXT, created REAL NOT NULL, visible REAL NOT NULL, owner TEXT NOT NULL DEFAULT '', "
    "token TEXT NOT NULL DEFAULT '', dequeue_count INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS durable_activities_ready ON durable_activities (hub, visible, id)",
    "CREATE INDEX IF NOT EXISTS durable_activities_instance ON durable_activities (hub, instance_id)",
    "CREATE TABLE IF NOT EXISTS durable_entities (hub TEXT NOT NULL, entity_id TEXT NOT NULL, state TEXT NOT NULL, "
    "updated REAL NOT NULL, PRIMARY KEY (hub, entity_id))",
]

INSTANCE_COLUMNS = (
    "hub, instance_id, name, version, execution_id, status, input, output, custom_status, created, updated, "
    "parent_instance_id, parent_execution_id, parent_task_id, parent_name, history_length"
)
MESSAGE_COLUMNS = "id, instance_id, execution_id, event, visible, created"

# The instance whose oldest due message waits longest, among those no unexpired lease holds; a Suspended
# instance only for a message that wakes it. The inbox index gives the order, so no sort runs.
CLAIMABLE = (
    "SELECT m.instance_id FROM durable_inbox m "
    "LEFT JOIN durable_leases l ON l.hub = m.hub AND l.instance_id = m.instance_id "
    "LEFT JOIN durable_instances i ON i.hub = m.hub AND i.instance_id = m.instance_id "
    "WHERE m.hub = ? AND m.is_entity = ? AND m.visible <= ? AND (l.expires IS NULL OR l.expires <= ?) "
    "AND (m.wakes = 1 OR i.status IS NULL OR i.status <> 'Suspended') "
    "ORDER BY m.visible, m.id LIMIT 1"
)


def instance_record(row: Sequence[Any]) -> InstanceRecord:
    (
        hub,
        instance_id,
        name,
        version,
        execution_id,
        status,
        input_,
        output,
        custom_status,
        created,
        updated,
        parent_id,
        parent_execution,
        parent_task,
        parent_name,
        history_length,
    ) = row
    parent = None if parent_id is None else ParentRef(parent_id, parent_execution, int(parent_task), parent_name)
    return InstanceRecord(
        hub,
        instance_id,
        name,
        version,
        execution_id,
        status,
        input_,
        output,
        custom_status,
        float(created),
        float(updated),
        parent,
        int(history_length),
    )


def inbox_message(row: Sequence[Any]) -> InboxMessage:
    mid, instance_id, execution_id, event, visible, created = row
    return InboxMessage(int(mid), instance_id, execution_id, decode_event(event), float(visible), float(created))


class DurableDatabase(SqliteDatabase):
    """The connection, the clock and the shared writes; the store's parts subclass it (see the package)."""

    kind = "durable store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *DURABLE_SCHEMA])
        self._clock = clock

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from a thread) soon after another connection commits; returns the stop function."""
        from overcast.durable.store.backends.sqlite.watch import DataVersionWatch

        return DataVersionWatch(self._data_version, callback).stop

    def _data_version(self) -> int:
        with self._connection("read the data version") as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def _instance(self, conn: sqlite3.Connection, hub: str, instance_id: str) -> InstanceRecord | None:
        row = conn.execute(
            f"SELECT {INSTANCE_COLUMNS} FROM durable_instances WHERE hub = ? AND instance_id = ?", (hub, instance_id)
        ).fetchone()
        return None if row is None else instance_record(row)

    def _history(self, conn: sqlite3.Connection, hub: str, instance_id: str) -> list[EventDict]:
        rows = conn.execute(
            "SELECT event FROM durable_history WHERE hub = ? AND instance_id = ? ORDER BY seq", (hub, instance_id)
        ).fetchall()
        return [decode_event(text) for (text,) in rows]

    def _deliver(self, conn: sqlite3.Connection, hub: str, message: NewMessage, event: str, now: float) -> int:
        visible = now if message.visible_at is None else message.visible_at
        cursor = conn.execute(
            "INSERT INTO durable_inbox (hub, instance_id, is_entity, execution_id, event, visible, wakes, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hub,
                message.instance_id,
                is_entity_id(message.instance_id),
                message.execution_id,
                event,
                visible,
                wakes_suspended(message.event),
                now,
            ),
        )
        return int(cursor.lastrowid or 0)

    def _drop(self, conn: sqlite3.Connection, hub: str, instance_ids: Sequence[str], *, lease: bool) -> None:
        """Delete instances with their history, inbox and activities (and leases when ``lease``)."""
        tables = ["durable_instances", "durable_history", "durable_inbox", "durable_activities"]
        for table in [*tables, "durable_leases"] if lease else tables:
            conn.executemany(
                f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?",
                [(hub, instance_id) for instance_id in instance_ids],
            )

    def _create(
        self, conn: sqlite3.Connection, hub: str, start: NewOrchestration, started: str, now: float
    ) -> tuple[bool, InstanceRecord]:
        """Create (or replace a finished) instance with its ExecutionStarted message; inside a transaction."""
        existing = self._instance(conn, hub, start.instance_id)
        if existing is not None and existing.runtime_status in ACTIVE_STATUSES:
            return False, existing
        if existing is not None:
            # A leftover lease stays: its holder's commit then fails on the new execution, as it must.
            self._drop(conn, hub, [start.instance_id], lease=False)
        parent = start.parent
        conn.execute(
            f"INSERT INTO durable_instances ({INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, "
            f"?, ?, 0)",
            (
                hub,
                start.instance_id,
                start.name,
                start.version,
                start.execution_id,
                PENDING,
                start.input,
                now,
                now,
                None if parent is None else parent.instance_id,
                None if parent is None else parent.execution_id,
                None if parent is None else parent.task_scheduled_id,
                None if parent is None else parent.name,
            ),
        )
        self._deliver(conn, hub, NewMessage(start.instance_id, start.started, start.execution_id), started, now)
        return True, InstanceRecord(
            hub,
            start.instance_id,
            start.name,
            start.version,
            start.execution_id,
            PENDING,
            start.input,
            None,
            None,
            now,
            now,
            parent,
            0,
        )

    def _claim(
        self, conn: sqlite3.Connection, hub: str, entities: bool, owner: str, duration: float, limit: int, token: str
    ) -> tuple[str, float, tuple[InboxMessage, ...]] | None:
        """Lease the next claimable instance or entity: (id, expiry, due messages), or None.

        On success a write transaction is left open for the caller to read more and COMMIT.
        """
        # An idle engine polls often: find out without the write lock that there is nothing to claim.
        probe_now = self._clock()
        if conn.execute(CLAIMABLE, (hub, entities, probe_now, probe_now)).fetchone() is None:
            return None
        conn.execute("BEGIN IMMEDIATE")
        claimed = self._claim_locked(conn, hub, entities, owner, duration, limit, token)
        if claimed is None:
            conn.execute("ROLLBACK")
        return claimed

    def _claim_locked(
        self, conn: sqlite3.Connection, hub: str, entities: bool, owner: str, duration: float, limit: int, token: str
    ) -> tuple[str, float, tuple[InboxMessage, ...]] | None:
        """``_claim`` inside a write transaction the caller holds (and commits)."""
        now = self._clock()  # read after waiting for the lock, so the lease starts when it holds
        row = conn.execute(CLAIMABLE, (hub, entities, now, now)).fetchone()
        if row is None:
            return None
        target, expires = str(row[0]), now + duration
        conn.execute(
            "INSERT INTO durable_leases (hub, instance_id, owner, token, expires) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (hub, instance_id) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            "expires = excluded.expires",
            (hub, target, owner, token, expires),
        )
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM durable_inbox WHERE hub = ? AND instance_id = ? AND visible <= ? "
            f"ORDER BY visible, id LIMIT ?",
            (hub, target, now, limit),
        ).fetchall()
        return target, expires, tuple(inbox_message(r) for r in rows)

    def _holds(self, conn: sqlite3.Connection, lease: Lease) -> bool:
        row = conn.execute(
            "SELECT 1 FROM durable_leases WHERE hub = ? AND instance_id = ? AND token = ?",
            (lease.hub, lease.instance_id, lease.token),
        ).fetchone()
        return row is not None

    def _finish(self, conn: sqlite3.Connection, lease: Lease, consumed: Sequence[int]) -> None:
        """Delete the consumed messages (only this instance's) and release the lease."""
        conn.executemany(
            "DELETE FROM durable_inbox WHERE id = ? AND hub = ? AND instance_id = ?",
            [(mid, lease.hub, lease.instance_id) for mid in consumed],
        )
        conn.execute("DELETE FROM durable_leases WHERE hub = ? AND instance_id = ?", (lease.hub, lease.instance_id))
