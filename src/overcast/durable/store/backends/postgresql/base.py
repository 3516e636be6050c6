"""The durable tables on PostgreSQL (created by :mod:`overcast.backends.postgresql.schema`) and the writes every part of
the PostgreSQL durable store shares.

A transaction that reads and then writes an instance's state (create, commit, purge) first takes a transaction advisory
lock on its task hub: the same guarantee as SQLite's ``BEGIN IMMEDIATE`` (nobody slips between our check and our write),
scoped to one hub, so different apps and hubs never wait for each other. Claims take no hub lock: a lease is one
conditional upsert, so instances claiming at once get different instances. Activity work items are claimed with ``FOR
UPDATE SKIP LOCKED`` and settled by their token, without the hub lock. A transaction that gives a worker something to do
sends ``NOTIFY overcast_durable`` (the hub as payload) with its commit, which wakes the engines of every instance
(:meth:`DurableDatabase.on_change`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from overcast.backends.base import Clock
from overcast.backends.postgresql.database import PostgresDatabase
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

Conn = psycopg.Connection[Any]
CHANNEL = "overcast_durable"
_CLAIM_TRIES = 8  # candidates skipped because another instance took them first, before this poll gives up
INSTANCE_COLUMNS = (
    "hub, instance_id, name, version, execution_id, status, input, output, custom_status, created, updated, "
    "parent_instance_id, parent_execution_id, parent_task_id, parent_name, history_length"
)
MESSAGE_COLUMNS = "id, instance_id, execution_id, event, visible, created"

# The instance whose oldest due message waits longest, among those no unexpired lease holds; a Suspended
# instance only for a message that wakes it. The inbox index gives the order.
CLAIMABLE = (
    "SELECT m.instance_id FROM durable_inbox m "
    "LEFT JOIN durable_leases l ON l.hub = m.hub AND l.instance_id = m.instance_id "
    "LEFT JOIN durable_instances i ON i.hub = m.hub AND i.instance_id = m.instance_id "
    "WHERE m.hub = %s AND m.is_entity = %s AND m.visible <= %s AND (l.expires IS NULL OR l.expires <= %s) "
    "AND (m.wakes OR i.status IS NULL OR i.status <> 'Suspended') "
    "ORDER BY m.visible, m.id LIMIT 1"
)


def instance_record(row: Sequence[Any]) -> InstanceRecord:
    (hub, instance_id, name, version, execution_id, status, input_, output, custom_status, created, updated,
     parent_id, parent_execution, parent_task, parent_name, history_length) = row
    parent = None if parent_id is None else ParentRef(parent_id, parent_execution, int(parent_task), parent_name)
    return InstanceRecord(hub, instance_id, name, version, execution_id, status, input_, output, custom_status,
                          float(created), float(updated), parent, int(history_length))


def inbox_message(row: Sequence[Any]) -> InboxMessage:
    mid, instance_id, execution_id, event, visible, created = row
    return InboxMessage(int(mid), instance_id, execution_id, decode_event(event), float(visible), float(created))


class DurableDatabase(PostgresDatabase):
    """The connection, the clock and the shared writes; the store's parts subclass it (see the package)."""

    kind = "durable store"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the listener's thread) when any instance commits durable work."""
        from overcast.backends.postgresql.notify import listener

        return listener(self.url).subscribe(CHANNEL, lambda _payload: callback())

    @staticmethod
    def _lock_hub(conn: Conn, hub: str) -> None:
        """Begin a transaction holding the hub's lock (released at COMMIT or ROLLBACK)."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"overcast.durable:{hub}",))

    @staticmethod
    def _notify(conn: Conn, hub: str) -> None:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, hub))

    def _instance(self, conn: Conn, hub: str, instance_id: str) -> InstanceRecord | None:
        row = conn.execute(
            f"SELECT {INSTANCE_COLUMNS} FROM durable_instances WHERE hub = %s AND instance_id = %s",
            (hub, instance_id),
        ).fetchone()
        return None if row is None else instance_record(row)

    def _history(self, conn: Conn, hub: str, instance_id: str) -> list[EventDict]:
        rows = conn.execute(
            "SELECT event FROM durable_history WHERE hub = %s AND instance_id = %s ORDER BY seq", (hub, instance_id)
        ).fetchall()
        return [decode_event(text) for (text,) in rows]

    def _deliver(self, conn: Conn, hub: str, message: NewMessage, event: str, now: float) -> int:
        visible = now if message.visible_at is None else message.visible_at
        row = conn.execute(
            "INSERT INTO durable_inbox (hub, instance_id, is_entity, execution_id, event, visible, wakes, created) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (hub, message.instance_id, bool(is_entity_id(message.instance_id)), message.execution_id, event,
             visible, bool(wakes_suspended(message.event)), now),
        ).fetchone()
        return int(row[0]) if row else 0

    def _drop(self, conn: Conn, hub: str, instance_ids: Sequence[str], *, lease: bool) -> None:
        """Delete instances with their history, inbox and activities (and leases when ``lease``)."""
        if not instance_ids:
            return
        tables = ["durable_instances", "durable_history", "durable_inbox", "durable_activities"]
        for table in [*tables, "durable_leases"] if lease else tables:
            conn.execute(
                f"DELETE FROM {table} WHERE hub = %s AND instance_id = ANY(%s)",
                (hub, list(instance_ids)),
            )

    def _create(
        self, conn: Conn, hub: str, start: NewOrchestration, started: str, now: float
    ) -> tuple[bool, InstanceRecord]:
        """Create (or replace a finished) instance with its ExecutionStarted message; inside a hub transaction."""
        existing = self._instance(conn, hub, start.instance_id)
        if existing is not None and existing.runtime_status in ACTIVE_STATUSES:
            return False, existing
        if existing is not None:
            # A leftover lease stays: its holder's commit then fails on the new execution, as it must.
            self._drop(conn, hub, [start.instance_id], lease=False)
        parent = start.parent
        conn.execute(
            f"INSERT INTO durable_instances ({INSTANCE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL, "
            f"%s, %s, %s, %s, %s, %s, 0)",
            (hub, start.instance_id, start.name, start.version, start.execution_id, PENDING, start.input, now, now,
             None if parent is None else parent.instance_id, None if parent is None else parent.execution_id,
             None if parent is None else parent.task_scheduled_id, None if parent is None else parent.name),
        )
        self._deliver(conn, hub, NewMessage(start.instance_id, start.started, start.execution_id), started, now)
        return True, InstanceRecord(hub, start.instance_id, start.name, start.version, start.execution_id, PENDING,
                                    start.input, None, None, now, now, parent, 0)

    def _claim(
        self, conn: Conn, hub: str, entities: bool, owner: str, duration: float, limit: int, token: str
    ) -> tuple[str, float, tuple[InboxMessage, ...]] | None:
        """Lease the next claimable instance or entity: (id, expiry, due messages), or None.

        On success a transaction is left open (holding the new lease's row) for the caller to read more and COMMIT.
        """
        # An idle engine polls often: find out without a transaction that there is nothing to claim.
        probe_now = self._clock()
        if conn.execute(CLAIMABLE, (hub, entities, probe_now, probe_now)).fetchone() is None:
            return None
        conn.execute("BEGIN")
        claimed = self._claim_locked(conn, hub, entities, owner, duration, limit, token)
        if claimed is None:
            conn.execute("ROLLBACK")
        return claimed

    def _claim_locked(
        self, conn: Conn, hub: str, entities: bool, owner: str, duration: float, limit: int, token: str
    ) -> tuple[str, float, tuple[InboxMessage, ...]] | None:
        """``_claim`` inside a transaction the caller holds (and commits).

        No hub lock: the lease is taken by one conditional upsert (only when absent or expired), so instances
        claiming at once each get a different one; a candidate another instance took first is skipped. A commit
        locks its lease row, so a lease is never taken over in the middle of its holder's commit.
        """
        skipped: list[str] = []
        for _ in range(_CLAIM_TRIES):
            now = self._clock()
            query = CLAIMABLE if not skipped else CLAIMABLE.replace(
                "ORDER BY", "AND NOT (m.instance_id = ANY(%s)) ORDER BY")
            args: tuple[object, ...] = (hub, entities, now, now) + ((skipped,) if skipped else ())
            row = conn.execute(query, args).fetchone()
            if row is None:
                return None
            target, expires = str(row[0]), now + duration
            taken = conn.execute(
                "INSERT INTO durable_leases (hub, instance_id, owner, token, expires) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (hub, instance_id) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
                "expires = excluded.expires WHERE durable_leases.expires <= %s",
                (hub, target, owner, token, expires, now),
            ).rowcount
            if taken != 1:
                skipped.append(target)
                continue
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM durable_inbox WHERE hub = %s AND instance_id = %s AND visible <= %s "
                f"ORDER BY visible, id LIMIT %s",
                (hub, target, now, limit),
            ).fetchall()
            return target, expires, tuple(inbox_message(r) for r in rows)
        return None

    def _holds(self, conn: Conn, lease: Lease) -> bool:
        """Whether the lease is still ours, locking its row until the transaction ends (no takeover meanwhile)."""
        row = conn.execute(
            "SELECT 1 FROM durable_leases WHERE hub = %s AND instance_id = %s AND token = %s FOR UPDATE",
            (lease.hub, lease.instance_id, lease.token),
        ).fetchone()
        return row is not None

    def _finish(self, conn: Conn, lease: Lease, consumed: Sequence[int]) -> None:
        """Delete the consumed messages (only this instance's) and release the lease."""
        if consumed:
            conn.execute(
                "DELETE FROM durable_inbox WHERE id = ANY(%s) AND hub = %s AND instance_id = %s",
                (list(consumed), lease.hub, lease.instance_id),
            )
        conn.execute(
            "DELETE FROM durable_leases WHERE hub = %s AND instance_id = %s", (lease.hub, lease.instance_id)
        )
