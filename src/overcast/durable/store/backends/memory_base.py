"""The state behind MemoryDurableStore: per-hub dicts, and the writes its operations share (under the lock)."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from overcast.backends.memory.common import Clock, MemoryStore
from overcast.durable.store import (
    ACTIVE_STATUSES,
    PENDING,
    SUSPENDED,
    EntityRecord,
    InboxMessage,
    InstanceRecord,
    Lease,
    NewMessage,
    NewOrchestration,
    is_entity_id,
)
from overcast.durable.store.backends.common import (
    decode_event,
    new_token,
    wakes_suspended,
)


@dataclass
class MessageRow:
    id: int
    instance_id: str
    execution_id: str | None
    event: str  # JSON text
    visible_at: float
    created: float

    def order(self) -> tuple[float, int]:
        return (self.visible_at, self.id)

    def snapshot(self) -> InboxMessage:
        return InboxMessage(
            self.id, self.instance_id, self.execution_id, decode_event(self.event), self.visible_at, self.created
        )


@dataclass
class LeaseRow:
    owner: str
    token: str
    expires: float


@dataclass
class ActivityRow:
    id: int
    instance_id: str
    execution_id: str
    name: str
    task_id: int
    input: str | None
    visible_at: float  # claimable from then on: when created, abandoned, or its lease expires
    owner: str = ""
    token: str = ""
    dequeue_count: int = 0


@dataclass
class HubState:
    instances: dict[str, InstanceRecord] = field(default_factory=dict)
    histories: dict[str, list[str]] = field(default_factory=dict)
    inbox: dict[int, MessageRow] = field(default_factory=dict)
    leases: dict[str, LeaseRow] = field(default_factory=dict)
    activities: dict[int, ActivityRow] = field(default_factory=dict)
    entities: dict[str, EntityRecord] = field(default_factory=dict)


class MemoryDurableBase(MemoryStore):
    """The state and the shared writes of MemoryDurableStore (all called under the store's lock)."""

    kind = "durable store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._hubs: dict[str, HubState] = {}
        self._ids = itertools.count(1)
        self._subscribers: list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after each write that gives a worker something to do (a message, an activity)."""
        with self._lock:
            self._subscribers.append(callback)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return stop

    def _changed(self) -> None:
        """Called under the lock by the writes that add work: the subscribers only schedule a look, never re-enter."""
        for callback in self._subscribers:
            callback()

    def _hub(self, hub: str) -> HubState:
        return self._hubs.setdefault(hub, HubState())

    # -- shared writes (called under the lock) ----------------------------------------------------------------

    def _deliver(self, h: HubState, message: NewMessage, event: str, now: float) -> int:
        visible = now if message.visible_at is None else message.visible_at
        mid = next(self._ids)
        h.inbox[mid] = MessageRow(mid, message.instance_id, message.execution_id, event, visible, now)
        self._changed()
        return mid

    def _drop(self, h: HubState, instance_id: str) -> None:
        """Forget an instance's history, inbox and activities (not its lease: a holder's commit then conflicts)."""
        h.instances.pop(instance_id, None)
        h.histories.pop(instance_id, None)
        for mid in [m.id for m in h.inbox.values() if m.instance_id == instance_id]:
            del h.inbox[mid]
        for aid in [a.id for a in h.activities.values() if a.instance_id == instance_id]:
            del h.activities[aid]

    def _create(
        self, h: HubState, hub: str, start: NewOrchestration, started: str, now: float
    ) -> tuple[bool, InstanceRecord]:
        existing = h.instances.get(start.instance_id)
        if existing is not None and existing.runtime_status in ACTIVE_STATUSES:
            return False, existing
        self._drop(h, start.instance_id)
        record = InstanceRecord(
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
            start.parent,
            0,
        )
        h.instances[start.instance_id] = record
        h.histories[start.instance_id] = []
        self._deliver(h, NewMessage(start.instance_id, start.started, start.execution_id), started, now)
        return True, record

    def _claimable(self, h: HubState, entities: bool, now: float) -> str | None:
        """The instance (or entity) whose oldest due message waits longest among those free to lease."""
        due = sorted((m for m in h.inbox.values() if m.visible_at <= now), key=MessageRow.order)
        for message in due:
            target = message.instance_id
            if is_entity_id(target) != entities:
                continue
            lease = h.leases.get(target)
            if lease is not None and lease.expires > now:
                continue
            record = h.instances.get(target)
            if (
                record is not None
                and record.runtime_status == SUSPENDED
                and not wakes_suspended(decode_event(message.event))
            ):
                continue
            return target
        return None

    def _take(
        self, h: HubState, target: str, owner: str, duration: float, limit: int, now: float
    ) -> tuple[LeaseRow, tuple[InboxMessage, ...]]:
        row = h.leases[target] = LeaseRow(owner, new_token(), now + duration)
        due = sorted(
            (m for m in h.inbox.values() if m.instance_id == target and m.visible_at <= now), key=MessageRow.order
        )
        return row, tuple(m.snapshot() for m in due[:limit])

    def _holds(self, h: HubState, lease: Lease) -> bool:
        row = h.leases.get(lease.instance_id)
        return row is not None and row.token == lease.token

    def _consume(self, h: HubState, instance_id: str, consumed: Sequence[int]) -> None:
        for mid in consumed:
            message = h.inbox.get(mid)
            if message is not None and message.instance_id == instance_id:
                del h.inbox[mid]
