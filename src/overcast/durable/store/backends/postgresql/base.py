"""The durable tables on PostgreSQL (created by :mod:`overcast.backends.postgresql.schema`) and the writes every part of
the PostgreSQL durable store shares.

A transaction that reads and then writes an instance's state (create, commit, purge) first takes a transaction advisory
lock on its task hub: the same guarantee as SQLite's ``BEGIN IMMEDIATE`` (nobody slips between our check and our write),
scoped to one hub, so different apps and hubs never wait for each other. Claims take no hub lock: a lease is one
conditional upsert, so instances claiming at once get different instances. Activity work items are claimed with ``FOR
UPDATE SKIP LOCKED`` and settled by their token, without the hub lock. After a commit that gives a worker something to
do, ``NOTIFY overcast_durable`` (the hub as payload) wakes the engines of every instance
(:meth:`DurableDatabase.on_change`); :mod:`.wakes` sends it, at most once per few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from overcast.backends.base import Clock
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
from overcast.durable.store.backends.common import decode_event, new_token, wakes_suspended
from overcast.durable.store.backends.postgresql.lanes import LanedDatabase
from overcast.durable.store.backends.postgresql.wakes import WakeSender

Conn = psycopg.Connection[Any]
CHANNEL = "overcast_durable"
INSTANCE_COLUMNS = (
    "hub, instance_id, name, version, execution_id, status, input, output, custom_status, created, updated, "
    "parent_instance_id, parent_execution_id, parent_task_id, parent_name, history_length"
)
MESSAGE_COLUMNS = "id, instance_id, execution_id, event, visible, created"

# A message's lease expiry (0: none) and whether its instance is Suspended, as subqueries on the full key: they run
# once per inbox row through an index whatever the planner believes about the tables' sizes (the suspended check has
# a partial index of its own, so it cannot fall on the hub's (hub, created) index). As joins, on tables too young for
# statistics (a new task hub, a bench), the planner matched each inbox row against every instance of the hub: a claim
# took 78 ms with 400 instances waiting, and more the more work there was.
_LEASE_EXPIRES = (
    "COALESCE((SELECT l.expires FROM durable_leases l WHERE l.hub = m.hub AND l.instance_id = m.instance_id), 0)"
)
_SUSPENDED = (
    "EXISTS (SELECT 1 FROM durable_instances i WHERE i.hub = m.hub AND i.instance_id = m.instance_id "
    "AND i.status = 'Suspended')"
)
# Leases the instances (or entities) whose oldest due messages wait longest, among those no unexpired lease holds; a
# Suspended instance only for a message that wakes it. One statement (its own transaction), so an idle poll costs one
# round trip and a busy one takes a whole batch. It locks nothing but the lease rows it writes, in instance id order:
# two claims that meet on the same rows wait in one order, never in a cycle (locking the inbox rows too deadlocked with
# commits deleting them). A row another claim took first fails the WHERE of the upsert and is not returned; the
# ``picked`` column says how many were tried, so the caller tries again past those. Each lease gets its own token,
# chosen by its rank in the batch.
CLAIM = (
    "WITH due AS (SELECT m.instance_id, m.visible, m.id FROM durable_inbox m "
    "WHERE m.hub = %(hub)s AND m.is_entity = %(entities)s AND m.visible <= %(now)s "
    f"AND {_LEASE_EXPIRES} <= %(now)s AND (m.wakes OR NOT {_SUSPENDED}) "
    "AND NOT (m.instance_id = ANY(%(skip)s)) ORDER BY m.visible, m.id LIMIT %(scan)s), "
    "picked AS (SELECT instance_id, row_number() OVER (ORDER BY min(visible), min(id)) AS n FROM due "
    "GROUP BY instance_id ORDER BY n LIMIT %(count)s), "
    "taken AS (INSERT INTO durable_leases (hub, instance_id, owner, token, expires) "
    "SELECT %(hub)s, instance_id, %(owner)s, (%(tokens)s::text[])[n], %(expires)s FROM picked ORDER BY instance_id "
    "ON CONFLICT (hub, instance_id) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
    "expires = excluded.expires WHERE durable_leases.expires <= %(now)s RETURNING instance_id, token) "
    "SELECT p.instance_id, t.token FROM picked p LEFT JOIN taken t ON t.instance_id = p.instance_id"
)
# The due messages of each leased instance, oldest first, at most ``limit`` each (the inbox target index serves it).
LEASED_MESSAGES = (
    "SELECT m.id, m.instance_id, m.execution_id, m.event, m.visible, m.created FROM unnest(%s::text[]) AS t(target) "
    "CROSS JOIN LATERAL (SELECT id, instance_id, execution_id, event, visible, created FROM durable_inbox "
    "WHERE hub = %s AND instance_id = t.target AND visible <= %s ORDER BY visible, id LIMIT %s) AS m"
)
_CLAIM_TRIES = 4  # claims that lost candidates to other instances, before this poll gives up
_SCAN_PER_LEASE = 4  # due messages looked at per lease wanted: an instance with many due messages takes several


def instance_record(row: Sequence[Any]) -> InstanceRecord:
    (hub, instance_id, name, version, execution_id, status, input_, output, custom_status, created, updated,
     parent_id, parent_execution, parent_task, parent_name, history_length) = row
    parent = None if parent_id is None else ParentRef(parent_id, parent_execution, int(parent_task), parent_name)
    return InstanceRecord(hub, instance_id, name, version, execution_id, status, input_, output, custom_status,
                          float(created), float(updated), parent, int(history_length))


def inbox_message(row: Sequence[Any]) -> InboxMessage:
    mid, instance_id, execution_id, event, visible, created = row
    return InboxMessage(int(mid), instance_id, execution_id, decode_event(event), float(visible), float(created))


class DurableDatabase(LanedDatabase):
    """The connections (a few lanes, see :mod:`.lanes`), the clock and the shared writes; the store's parts subclass
    it (see the package)."""

    kind = "durable store"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock
        self._wakes = WakeSender(self._send_wakes)

    def _send_wakes(self, hubs: Sequence[str]) -> None:
        with self._connection("wake the other instances") as conn:
            conn.execute("SELECT pg_notify(%s, hub) FROM unnest(%s::text[]) AS h(hub)", (CHANNEL, list(hubs)))

    def _wake_others(self, hub: str) -> None:
        """After a commit that gave a worker something to do: wake the engines of every instance (see :mod:`.wakes`)."""
        self._wakes.request(hub)

    def close(self) -> None:
        self._wakes.close()
        super().close()

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the listener's thread) when any instance commits durable work."""
        from overcast.backends.postgresql.notify import listener

        return listener(self.url).subscribe(CHANNEL, lambda _payload: callback())

    @staticmethod
    def _lock_hub(conn: Conn, hub: str, shared: bool = False) -> None:
        """Begin a transaction holding the hub's lock (released at COMMIT or ROLLBACK).

        ``shared``: for a commit that reads and writes only what its lease guards (its own instance, new messages and
        activities). Such commits run side by side; create and purge, which read then write any instance of the hub,
        take the lock alone and so still never slip between a commit's check and its write.
        """
        conn.execute("BEGIN")
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(f"SELECT {function}(hashtext(%s))", (f"overcast.durable:{hub}",))

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

    @staticmethod
    def _deliver_many(conn: Conn, hub: str, messages: Sequence[tuple[NewMessage, str]], now: float) -> None:
        """``_deliver`` for several messages, without their ids: nothing to wait for, so it rides in a pipeline."""
        if not messages:
            return
        conn.cursor().executemany(
            "INSERT INTO durable_inbox (hub, instance_id, is_entity, execution_id, event, visible, wakes, created) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(hub, message.instance_id, bool(is_entity_id(message.instance_id)), message.execution_id, event,
              now if message.visible_at is None else message.visible_at, bool(wakes_suspended(message.event)), now)
             for message, event in messages],
        )

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
        self, conn: Conn, hub: str, entities: bool, owner: str, duration: float, count: int
    ) -> list[tuple[str, str, float]]:
        """Lease up to ``count`` claimable instances or entities: their (id, token, expiry), oldest due message first.

        Each try is one statement, committed when it returns. Candidates another instance leased first are skipped
        and the next ones tried, a few times at most: instances polling at once do not all come back empty-handed.
        """
        taken: list[tuple[str, str, float]] = []
        skipped: list[str] = []
        for _ in range(_CLAIM_TRIES):
            now = self._clock()
            expires = now + duration
            wanted = count - len(taken)
            tokens = [new_token() for _ in range(wanted)]
            rows = conn.execute(CLAIM, {
                "hub": hub, "entities": entities, "now": now, "scan": wanted * _SCAN_PER_LEASE, "count": wanted,
                "owner": owner, "tokens": tokens, "expires": expires, "skip": skipped,
            }).fetchall()
            rank = {token: n for n, token in enumerate(tokens)}
            won = sorted(((str(target), str(token)) for target, token in rows if token is not None),
                         key=lambda row: rank[row[1]])
            taken.extend((target, token, expires) for target, token in won)
            lost = [str(target) for target, token in rows if token is None]
            if not lost or len(taken) >= count:
                break
            skipped.extend(lost)
        return taken

    def _leased_messages(
        self, conn: Conn, hub: str, targets: Sequence[str], limit: int
    ) -> dict[str, list[InboxMessage]]:
        """The due messages of the leased ``targets`` (at most ``limit`` each), oldest first."""
        found: dict[str, list[InboxMessage]] = {target: [] for target in targets}
        rows = conn.execute(LEASED_MESSAGES, (list(targets), hub, self._clock(), limit)).fetchall()
        for row in rows:
            found[str(row[1])].append(inbox_message(row))
        for messages in found.values():
            messages.sort(key=lambda m: (m.visible_at, m.id))
        return found

    def _holds(self, conn: Conn, lease: Lease) -> bool:
        """Whether the lease is still ours, locking its row until the transaction ends (no takeover meanwhile)."""
        return self._holds_cursor(conn, lease).fetchone() is not None

    @staticmethod
    def _holds_cursor(conn: Conn, lease: Lease) -> psycopg.Cursor[Any]:
        """``_holds`` as a query sent but not yet waited for (one row if held): it rides in a pipeline."""
        return conn.execute(
            "SELECT 1 FROM durable_leases WHERE hub = %s AND instance_id = %s AND token = %s FOR UPDATE",
            (lease.hub, lease.instance_id, lease.token),
        )

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
