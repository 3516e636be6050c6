"""MemoryDurableStore: the DurableStore in dicts, for tests and single-process runs (nothing survives the process).

Events are kept as JSON text, exactly as SQLite keeps them, so a caller that mutates a dict it passed in or got
back never changes the store. Every call validates and encodes its input before touching anything, then runs under
the one lock: each operation is atomic. Leases scan the inbox: fine for tests and modest backlogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from overcast.durable.store import (
    DEFAULT_PAGE_SIZE,
    ActivityWorkItem,
    EntityLease,
    EntityRecord,
    EpisodeCommit,
    EventDict,
    InstanceQuery,
    InstanceRecord,
    Lease,
    NewMessage,
    NewOrchestration,
    OrchestrationLease,
    Page,
)
from overcast.durable.store.backends.common import (
    check_commit,
    check_hub,
    check_lease_request,
    check_message,
    check_new_orchestration,
    check_page_size,
    check_query,
    decode_continuation,
    decode_event,
    encode_event,
    encoded_start,
    new_token,
    page_of,
    same_version,
)
from overcast.durable.store.backends.memory_base import ActivityRow, HubState, MemoryDurableBase
from overcast.errors import StoreError


class MemoryDurableStore(MemoryDurableBase):
    """Implements DurableStore for the threads of one process."""

    # -- InstanceStore ----------------------------------------------------------------------------------------

    def create_instance(self, hub: str, start: NewOrchestration) -> tuple[bool, InstanceRecord]:
        check_hub(hub)
        check_new_orchestration(start)
        started = encode_event(start.started)
        with self._open() as now:
            return self._create(self._hub(hub), hub, start, started, now)

    def get_instance(self, hub: str, instance_id: str) -> InstanceRecord | None:
        check_hub(hub)
        with self._open():
            return self._hub(hub).instances.get(instance_id)

    def get_history(self, hub: str, instance_id: str) -> list[EventDict]:
        check_hub(hub)
        with self._open():
            return [decode_event(text) for text in self._hub(hub).histories.get(instance_id, [])]

    def query_instances(
        self, hub: str, query: InstanceQuery, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[InstanceRecord]:
        check_query(hub, query)
        check_page_size(top)
        after = decode_continuation(continuation)
        with self._open():
            records = self._hub(hub).instances.values()
            rows = sorted(
                (r for r in records if query.matches(r) and (after is None or r.instance_id > after)),
                key=lambda r: r.instance_id,
            )
        return page_of(rows[: top + 1], top, lambda r: r.instance_id)

    def purge_instance(self, hub: str, instance_id: str) -> bool:
        check_hub(hub)
        with self._open():
            h = self._hub(hub)
            existed = instance_id in h.instances
            if existed:
                self._drop(h, instance_id)
                h.leases.pop(instance_id, None)
            return existed

    def purge_instances(self, hub: str, query: InstanceQuery) -> int:
        check_query(hub, query)
        with self._open():
            h = self._hub(hub)
            doomed = [r.instance_id for r in h.instances.values() if query.matches(r)]
            for instance_id in doomed:
                self._drop(h, instance_id)
                h.leases.pop(instance_id, None)
            return len(doomed)

    # -- OrchestrationQueue -----------------------------------------------------------------------------------

    def send_message(self, hub: str, message: NewMessage) -> int:
        check_hub(hub)
        event = check_message(message)
        with self._open() as now:
            return self._deliver(self._hub(hub), message, event, now)

    def lease_orchestrations(
        self, hub: str, owner: str, duration: float, max_instances: int, max_messages: int = 1000
    ) -> list[OrchestrationLease]:
        check_lease_request(hub, owner, duration, max_messages, "messages")
        check_lease_request(hub, owner, duration, max_instances, "instances")
        leases: list[OrchestrationLease] = []
        with self._open() as now:
            h = self._hub(hub)
            while len(leases) < max_instances and (target := self._claimable(h, False, now)) is not None:
                row, messages = self._take(h, target, owner, duration, max_messages, now)
                history = tuple(decode_event(text) for text in h.histories.get(target, []))
                leases.append(OrchestrationLease(
                    hub, target, owner, row.token, row.expires, messages, h.instances.get(target), history
                ))
        return leases

    def commit_episode(self, lease: OrchestrationLease, commit: EpisodeCommit) -> bool:
        check_commit(lease, commit)
        events = [encode_event(event) for event in commit.events]
        messages = [(message, check_message(message)) for message in commit.messages]
        starts = [(start, *encoded_start(start)) for start in commit.start]
        with self._open() as now:
            h = self._hub(lease.hub)
            if not self._holds(h, lease):
                return False
            current = h.instances.get(lease.instance_id)
            if not same_version(current, lease.instance):
                del h.leases[lease.instance_id]
                return False
            if current is not None:
                self._write_instance(h, current, commit, events, now)
            for message, event in messages:
                self._deliver(h, message, event, now)
            for start, started, conflict in starts:
                created, _ = self._create(h, lease.hub, start, started, now)
                if not created and start.on_conflict is not None and conflict is not None:
                    self._deliver(h, start.on_conflict, conflict, now)
            self._consume(h, lease.instance_id, commit.consumed)
            del h.leases[lease.instance_id]
            return True

    def _write_instance(
        self, h: HubState, current: InstanceRecord, commit: EpisodeCommit, events: list[str], now: float
    ) -> None:
        history = h.histories.setdefault(current.instance_id, [])
        if commit.reset is not None:
            history.clear()
            current = replace(current, execution_id=commit.reset.execution_id, input=commit.reset.input)
        history.extend(events)
        if commit.update is not None:
            current = replace(
                current,
                runtime_status=commit.update.runtime_status,
                output=commit.update.output,
                custom_status=commit.update.custom_status,
            )
        h.instances[current.instance_id] = replace(current, history_length=len(history), last_updated_time=now)
        for request in commit.activities:
            aid = next(self._ids)
            h.activities[aid] = ActivityRow(
                aid, current.instance_id, current.execution_id, request.name, request.task_id, request.input, now
            )
        if commit.activities:
            self._changed()

    def release_lease(self, lease: Lease) -> None:
        with self._open():
            h = self._hub(lease.hub)
            if self._holds(h, lease):
                del h.leases[lease.instance_id]

    def next_due_time(self, hub: str) -> float | None:
        check_hub(hub)
        with self._open() as now:
            h = self._hub(hub)
            times = [m.visible_at for m in h.inbox.values()]
            times += [a.visible_at for a in h.activities.values()]
            times += [row.expires for row in h.leases.values()]
            return min((t for t in times if t > now), default=None)

    # -- ActivityQueue ----------------------------------------------------------------------------------------

    def lease_activities(self, hub: str, owner: str, duration: float, max_items: int = 1) -> list[ActivityWorkItem]:
        check_lease_request(hub, owner, duration, max_items, "activities")
        with self._open() as now:
            h = self._hub(hub)
            ready = sorted(
                (a for a in h.activities.values() if a.visible_at <= now), key=lambda a: (a.visible_at, a.id)
            )[:max_items]
            items = []
            for activity in ready:
                activity.owner, activity.token = owner, new_token()
                activity.visible_at = now + duration
                activity.dequeue_count += 1
                items.append(
                    ActivityWorkItem(
                        hub,
                        activity.id,
                        activity.instance_id,
                        activity.execution_id,
                        activity.name,
                        activity.task_id,
                        activity.input,
                        activity.dequeue_count,
                        owner,
                        activity.token,
                        activity.visible_at,
                    )
                )
            return items

    def _leased(self, h: HubState, item: ActivityWorkItem) -> ActivityRow | None:
        activity = h.activities.get(item.id)
        return activity if activity is not None and activity.token == item.token else None

    def renew_activity(self, item: ActivityWorkItem, duration: float) -> bool:
        check_lease_request(item.hub, item.owner, duration, 1, "activities")
        with self._open() as now:
            activity = self._leased(self._hub(item.hub), item)
            if activity is None:
                return False
            activity.visible_at = now + duration
            return True

    def abandon_activity(self, item: ActivityWorkItem, delay: float = 0.0) -> bool:
        if delay < 0:
            raise StoreError(f"The delay before an abandoned activity runs again cannot be negative (got {delay} s).")
        with self._open() as now:
            activity = self._leased(self._hub(item.hub), item)
            if activity is None:
                return False
            activity.visible_at, activity.token, activity.owner = now + delay, "", ""
            return True

    def complete_activities(self, results: Sequence[tuple[ActivityWorkItem, EventDict]]) -> list[bool]:
        checked = []
        for item, result in results:
            message = NewMessage(item.instance_id, result, item.execution_id)
            checked.append((item, message, check_message(message)))
        answers: list[bool] = []
        with self._open() as now:
            for item, message, event in checked:
                h = self._hub(item.hub)
                if self._leased(h, item) is None:
                    answers.append(False)
                    continue
                del h.activities[item.id]
                self._deliver(h, message, event, now)
                answers.append(True)
        return answers

    # -- EntityStore ------------------------------------------------------------------------------------------

    def lease_next_entity(self, hub: str, owner: str, duration: float, max_messages: int = 100) -> EntityLease | None:
        check_lease_request(hub, owner, duration, max_messages, "messages")
        with self._open() as now:
            h = self._hub(hub)
            target = self._claimable(h, True, now)
            if target is None:
                return None
            row, messages = self._take(h, target, owner, duration, max_messages, now)
            entity = h.entities.get(target)
            return EntityLease(
                hub, target, owner, row.token, row.expires, messages, None if entity is None else entity.state
            )

    def commit_entity_batch(
        self, lease: EntityLease, consumed: Sequence[int], state: str | None, messages: Sequence[NewMessage] = ()
    ) -> bool:
        encoded = [(message, check_message(message)) for message in messages]
        with self._open() as now:
            h = self._hub(lease.hub)
            if not self._holds(h, lease):
                return False
            if state is None:
                h.entities.pop(lease.instance_id, None)
            else:
                h.entities[lease.instance_id] = EntityRecord(lease.hub, lease.instance_id, state, now)
            for message, event in encoded:
                self._deliver(h, message, event, now)
            self._consume(h, lease.instance_id, consumed)
            del h.leases[lease.instance_id]
            return True

    def get_entity(self, hub: str, entity_id: str) -> EntityRecord | None:
        check_hub(hub)
        with self._open():
            return self._hub(hub).entities.get(entity_id)

    def query_entities(
        self, hub: str, name: str | None = None, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[EntityRecord]:
        check_hub(hub)
        check_page_size(top)
        after = decode_continuation(continuation)
        prefix = "@" if name is None else f"@{name}@"
        with self._open():
            rows = sorted(
                (
                    e
                    for e in self._hub(hub).entities.values()
                    if e.entity_id.startswith(prefix) and (after is None or e.entity_id > after)
                ),
                key=lambda e: e.entity_id,
            )
        return page_of(rows[: top + 1], top, lambda e: e.entity_id)


if TYPE_CHECKING:
    from overcast.durable.store import DurableStore

    def _implements(store: MemoryDurableStore) -> DurableStore:
        """Never called: mypy checks here that the in-memory store implements the protocol."""
        return store
