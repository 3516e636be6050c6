"""Inboxes, instance leases and the one-transaction episode commit on PostgreSQL."""

from __future__ import annotations

from overcast.durable.store import EpisodeCommit, InstanceRecord, Lease, NewMessage, OrchestrationLease
from overcast.durable.store.backends.common import (
    check_commit,
    check_hub,
    check_lease_request,
    check_message,
    encode_event,
    encoded_start,
    new_token,
    same_version,
)
from overcast.durable.store.backends.postgresql.base import Conn, DurableDatabase


class OrchestrationTables(DurableDatabase):
    """The OrchestrationQueue part of PostgresDurableStore."""

    def send_message(self, hub: str, message: NewMessage) -> int:
        check_hub(hub)
        event = check_message(message)
        with self._connection(f"send a message to {message.instance_id!r}") as conn:
            conn.execute("BEGIN")
            mid = self._deliver(conn, hub, message, event, self._clock())
            self._notify(conn, hub)
            conn.execute("COMMIT")
        return mid

    def lease_orchestrations(
        self, hub: str, owner: str, duration: float, max_instances: int, max_messages: int = 1000
    ) -> list[OrchestrationLease]:
        check_lease_request(hub, owner, duration, max_messages, "messages")
        check_lease_request(hub, owner, duration, max_instances, "instances")
        leases: list[OrchestrationLease] = []
        with self._connection("lease orchestrations") as conn:
            token = new_token()
            claimed = self._claim(conn, hub, False, owner, duration, max_messages, token)
            while claimed is not None:
                target, expires, messages = claimed
                instance = self._instance(conn, hub, target)
                history = tuple(self._history(conn, hub, target))
                leases.append(OrchestrationLease(hub, target, owner, token, expires, messages, instance, history))
                if len(leases) >= max_instances:
                    break
                token = new_token()
                claimed = self._claim_locked(conn, hub, False, owner, duration, max_messages, token)
            if leases:
                conn.execute("COMMIT")
        return leases

    def commit_episode(self, lease: OrchestrationLease, commit: EpisodeCommit) -> bool:
        check_commit(lease, commit)
        events = [encode_event(event) for event in commit.events]
        messages = [(message, check_message(message)) for message in commit.messages]
        starts = [(start, *encoded_start(start)) for start in commit.start]
        hub = lease.hub
        with self._connection(f"commit an episode of instance {lease.instance_id!r}") as conn:
            self._lock_hub(conn, hub)
            now = self._clock()
            if not self._holds(conn, lease):
                conn.execute("ROLLBACK")
                return False
            current = self._instance(conn, hub, lease.instance_id)
            if not same_version(current, lease.instance):
                # Purged, replaced or rewritten behind the lease: this episode's view is stale. Free the instance.
                self._finish(conn, lease, ())
                conn.execute("COMMIT")
                return False
            if current is not None:
                self._write_instance(conn, current, commit, events, now)
            for message, event in messages:
                self._deliver(conn, hub, message, event, now)
            for start, started, conflict in starts:
                created, _ = self._create(conn, hub, start, started, now)
                if not created and start.on_conflict is not None and conflict is not None:
                    self._deliver(conn, hub, start.on_conflict, conflict, now)
            self._finish(conn, lease, commit.consumed)
            if messages or starts or commit.activities:
                self._notify(conn, hub)
            conn.execute("COMMIT")
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
            conn.execute("BEGIN")
            released = conn.execute(
                "DELETE FROM durable_leases WHERE hub = %s AND instance_id = %s AND token = %s",
                (lease.hub, lease.instance_id, lease.token),
            ).rowcount
            if released:
                self._notify(conn, lease.hub)  # its waiting messages are claimable again
            conn.execute("COMMIT")

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
