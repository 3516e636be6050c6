"""Inboxes, instance leases and the one-transaction episode commit on PostgreSQL."""

from __future__ import annotations

from overcast.durable.store import EpisodeCommit, EventDict, InstanceRecord, Lease, NewMessage, OrchestrationLease
from overcast.durable.store.backends.common import (
    check_commit,
    check_hub,
    check_lease_request,
    check_message,
    decode_event,
    encode_event,
    encoded_start,
    same_version,
)
from overcast.durable.store.backends.postgresql.base import INSTANCE_COLUMNS, Conn, DurableDatabase, instance_record


class OrchestrationTables(DurableDatabase):
    """The OrchestrationQueue part of PostgresDurableStore."""

    def send_message(self, hub: str, message: NewMessage) -> int:
        check_hub(hub)
        event = check_message(message)
        with self._connection(f"send a message to {message.instance_id!r}") as conn:
            mid = self._deliver(conn, hub, message, event, self._clock())
        self._wake_others(hub)
        return mid

    def lease_orchestrations(
        self, hub: str, owner: str, duration: float, max_instances: int, max_messages: int = 1000
    ) -> list[OrchestrationLease]:
        check_lease_request(hub, owner, duration, max_messages, "messages")
        check_lease_request(hub, owner, duration, max_instances, "instances")
        with self._connection("lease orchestrations") as conn:
            claimed = self._claim(conn, hub, False, owner, duration, max_instances)
            if not claimed:
                return []
            # The leases are committed: what follows reads what they guard, in one round trip. Nobody else commits
            # an episode of these instances now; a create or purge meanwhile fails the episode's commit (same_version).
            targets = [target for target, _, _ in claimed]
            with conn.pipeline():
                instances = conn.execute(
                    f"SELECT {INSTANCE_COLUMNS} FROM durable_instances WHERE hub = %s AND instance_id = ANY(%s)",
                    (hub, targets))
                # Per instance on the full key (as the messages): the same plan at any table size or statistics.
                histories = conn.execute(
                    "SELECT t.target, h.event FROM unnest(%s::text[]) AS t(target) CROSS JOIN LATERAL ("
                    "SELECT event, seq FROM durable_history WHERE hub = %s AND instance_id = t.target) AS h "
                    "ORDER BY t.target, h.seq", (targets, hub))
                messages = self._leased_messages(conn, hub, targets, max_messages)
                records = {record.instance_id: record for record in map(instance_record, instances.fetchall())}
                events: dict[str, list[EventDict]] = {target: [] for target in targets}
                for instance_id, text in histories.fetchall():
                    events[str(instance_id)].append(decode_event(text))
        return [
            OrchestrationLease(hub, target, owner, token, expires, tuple(messages[target]), records.get(target),
                               tuple(events[target]))
            for target, token, expires in claimed
        ]

    def commit_episode(self, lease: OrchestrationLease, commit: EpisodeCommit) -> bool:
        check_commit(lease, commit)
        events = [encode_event(event) for event in commit.events]
        messages = [(message, check_message(message)) for message in commit.messages]
        starts = [(start, *encoded_start(start)) for start in commit.start]
        hub = lease.hub
        with self._connection(f"commit an episode of instance {lease.instance_id!r}") as conn:
            # Two round trips: the checks (lease held and locked, instance unchanged), then every write and COMMIT.
            with conn.pipeline():
                # Creating sub-orchestrations reads then writes other instances: that takes the hub alone.
                self._lock_hub(conn, hub, shared=not starts)
                now = self._clock()
                held = self._holds_cursor(conn, lease)
                current = self._instance(conn, hub, lease.instance_id)
                holds = held.fetchone() is not None
            if not holds:
                conn.execute("ROLLBACK")
                return False
            if not same_version(current, lease.instance):
                # Purged, replaced or rewritten behind the lease: this episode's view is stale. Free the instance.
                self._finish(conn, lease, ())
                conn.execute("COMMIT")
                return False
            with conn.pipeline():
                if current is not None:
                    self._write_instance(conn, current, commit, events, now)
                self._deliver_many(conn, hub, messages, now)
                for start, started, conflict in starts:
                    created, _ = self._create(conn, hub, start, started, now)
                    if not created and start.on_conflict is not None and conflict is not None:
                        self._deliver(conn, hub, start.on_conflict, conflict, now)
                self._finish(conn, lease, commit.consumed)
                conn.execute("COMMIT")
        if messages or starts or commit.activities:
            self._wake_others(hub)
        return True

    def _write_instance(
        self, conn: Conn, current: InstanceRecord, commit: EpisodeCommit, events: list[str], now: float
    ) -> None:
        key = (current.hub, current.instance_id)
        execution_id, input_, base = current.execution_id, current.input, current.history_length
        if commit.reset is not None:
            conn.execute("DELETE FROM durable_history WHERE hub = %s AND instance_id = %s", key)
            execution_id, input_, base = commit.reset.execution_id, commit.reset.input, 0
        cursor = conn.cursor()
        cursor.executemany(
            "INSERT INTO durable_history (hub, instance_id, seq, event) VALUES (%s, %s, %s, %s)",
            [(*key, base + offset, event) for offset, event in enumerate(events)],
        )
        update = commit.update
        status, output, custom_status = (
            (current.runtime_status, current.output, current.custom_status)
            if update is None
            else (update.runtime_status, update.output, update.custom_status)
        )
        conn.execute(
            "UPDATE durable_instances SET execution_id = %s, input = %s, status = %s, output = %s, custom_status = %s, "
            "history_length = %s, updated = %s WHERE hub = %s AND instance_id = %s",
            (execution_id, input_, status, output, custom_status, base + len(events), now, *key),
        )
        cursor.executemany(
            "INSERT INTO durable_activities (hub, instance_id, execution_id, name, task_id, input, created, visible) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (*key, execution_id, request.name, request.task_id, request.input, now, now)
                for request in commit.activities
            ],
        )

    def release_lease(self, lease: Lease) -> None:
        with self._connection(f"release the lease on {lease.instance_id!r}") as conn:
            released = conn.execute(
                "DELETE FROM durable_leases WHERE hub = %s AND instance_id = %s AND token = %s",
                (lease.hub, lease.instance_id, lease.token),
            ).rowcount
        if released:
            self._wake_others(lease.hub)  # its waiting messages are claimable again

    def next_due_time(self, hub: str) -> float | None:
        check_hub(hub)
        with self._connection("find the next due time") as conn:
            now = self._clock()
            # One indexed MIN per source: inbox (orchestrations, entities), activities, then the few leases.
            row = conn.execute(
                "SELECT MIN(t) FROM ("
                "SELECT MIN(visible) AS t FROM durable_inbox WHERE hub = %s AND NOT is_entity AND visible > %s "
                "UNION ALL SELECT MIN(visible) FROM durable_inbox WHERE hub = %s AND is_entity AND visible > %s "
                "UNION ALL SELECT MIN(visible) FROM durable_activities WHERE hub = %s AND visible > %s "
                "UNION ALL SELECT MIN(expires) FROM durable_leases WHERE hub = %s AND expires > %s) AS due",
                (hub, now) * 4,
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])
