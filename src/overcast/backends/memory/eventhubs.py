"""MemoryEventHubsStore: event hubs for the threads of one process (tests, single-process tools)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from overcast.backends.base import utc
from overcast.backends.changes import HeardInProcess
from overcast.backends.eventhubs_store import (
    DEFAULT_RETENTION,
    Checkpoint,
    EventData,
    HubInfo,
    Ownership,
    PartitionInfo,
    StoredEvent,
    check_group,
    check_partition,
    check_partition_count,
    encode_properties,
    group_list,
    hub_key,
    sorted_groups,
    target_partition,
)
from overcast.backends.memory.common import Clock, MemoryStore
from overcast.backends.names import check_text
from overcast.errors import StoreError


@dataclass
class _Partition:
    next_sequence: int = 0
    next_offset: int = 0
    events: list[StoredEvent] = field(default_factory=list)  # retained, in sequence order


@dataclass
class _Hub:
    name: str
    partitions: list[_Partition]
    groups: list[str]
    retention: float
    created: float
    round_robin: int = 0

    def info(self) -> HubInfo:
        return HubInfo(self.name, len(self.partitions), sorted_groups(self.groups), self.retention, utc(self.created))


class MemoryEventHubsStore(MemoryStore, HeardInProcess):
    kind = "event hubs store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._hubs: dict[str, _Hub] = {}
        self._checkpoints: dict[tuple[str, str, str], Checkpoint] = {}
        self._owners: dict[tuple[str, str, str], tuple[str, float]] = {}

    def _hub(self, hub: str) -> _Hub:
        found = self._hubs.get(hub_key(hub))
        if found is None:
            raise StoreError(f"Event hub '{hub}' does not exist.")
        return found

    def ensure_hub(self, hub: str, partition_count: int, consumer_groups: Sequence[str] = (),
                   retention: float = DEFAULT_RETENTION) -> HubInfo:
        key = hub_key(hub)
        check_partition_count(partition_count)
        groups = group_list(consumer_groups)
        if retention <= 0:
            raise StoreError(f"Event hub '{hub}': retention must be positive, got {retention!r}.")
        with self._open() as now:
            found = self._hubs.get(key)
            if found is None:
                found = self._hubs[key] = _Hub(hub, [_Partition() for _ in range(partition_count)], [], retention, now)
            known = {g.lower() for g in found.groups}
            found.groups += [g for g in groups if g.lower() not in known]
            return found.info()

    def hub(self, hub: str) -> HubInfo | None:
        key = hub_key(hub)
        with self._open():
            found = self._hubs.get(key)
            return None if found is None else found.info()

    def hubs(self) -> list[HubInfo]:
        with self._open():
            return [self._hubs[key].info() for key in sorted(self._hubs)]

    def _trim(self, hub: _Hub, partition: _Partition, now: float) -> None:
        horizon = now - hub.retention
        keep = 0
        while keep < len(partition.events) and partition.events[keep].enqueued_time.timestamp() <= horizon:
            keep += 1
        if keep:
            del partition.events[:keep]

    def send(self, hub: str, events: Sequence[EventData], partition_id: str | None = None) -> list[StoredEvent]:
        encoded = [encode_properties(e.properties) for e in events]
        with self._open() as now:
            found = self._hub(hub)
            info = found.info()
            targets = target_partition(info, events, partition_id, found.round_robin)
            if partition_id is None and any(e.partition_key is None for e in events):
                found.round_robin += 1
            stored = []
            for event, index, props in zip(events, targets, encoded, strict=True):
                partition = found.partitions[index]
                item = StoredEvent(str(index), partition.next_sequence, str(partition.next_offset), utc(now),
                                   bytes(event.body), dict(event.properties), event.partition_key)
                partition.next_sequence += 1
                partition.next_offset += len(event.body) + len(props)
                partition.events.append(item)
                stored.append(item)
            for index in set(targets):
                self._trim(found, found.partitions[index], now)
            return stored

    def read(self, hub: str, partition: str, from_sequence: int, max_events: int) -> list[StoredEvent]:
        with self._open() as now:
            found = self._hub(hub)
            part = found.partitions[check_partition(found.info(), partition)]
            self._trim(found, part, now)
            if not part.events or max_events <= 0:
                return []
            start = max(0, from_sequence - part.events[0].sequence_number)
            return part.events[start:start + max_events]

    def partitions(self, hub: str) -> list[PartitionInfo]:
        with self._open() as now:
            found = self._hub(hub)
            result = []
            for index, part in enumerate(found.partitions):
                self._trim(found, part, now)
                last = part.events[-1] if part.events else None
                begin = part.events[0].sequence_number if part.events else part.next_sequence
                result.append(PartitionInfo(
                    str(index), begin, part.next_sequence - 1, last.offset if last else "-1",
                    last.enqueued_time if last else None,
                ))
            return result

    def sequence_at(self, hub: str, partition: str, enqueued_after: float) -> int:
        with self._open() as now:
            found = self._hub(hub)
            part = found.partitions[check_partition(found.info(), partition)]
            self._trim(found, part, now)
            for event in part.events:
                if event.enqueued_time.timestamp() > enqueued_after:
                    return event.sequence_number
            return part.next_sequence

    def set_checkpoint(self, hub: str, group: str, partition: str, sequence_number: int, offset: str) -> None:
        key = (hub_key(hub), check_group(group), partition)
        check_text("Partition id", partition)
        with self._open() as now:
            self._checkpoints[key] = Checkpoint(partition, sequence_number, offset, utc(now))

    def checkpoints(self, hub: str, group: str) -> dict[str, Checkpoint]:
        hub_id, group_id = hub_key(hub), check_group(group)
        with self._open():
            found = {k[2]: v for k, v in self._checkpoints.items() if k[0] == hub_id and k[1] == group_id}
        return dict(sorted(found.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0]))

    def claim(self, hub: str, group: str, partition: str, owner: str, duration: float,
              steal_from: str | None = None) -> bool:
        key = (hub_key(hub), check_group(group), partition)
        check_text("Owner", owner)
        with self._open() as now:
            current = self._owners.get(key)
            if current is not None and current[0] != owner and current[1] > now and current[0] != steal_from:
                return False
            self._owners[key] = (owner, now + duration)
            return True

    def release(self, hub: str, group: str, partition: str, owner: str) -> None:
        key = (hub_key(hub), check_group(group), partition)
        with self._open():
            current = self._owners.get(key)
            if current is not None and current[0] == owner:
                del self._owners[key]

    def ownership(self, hub: str, group: str) -> list[Ownership]:
        hub_id, group_id = hub_key(hub), check_group(group)
        with self._open() as now:
            rows = [(k[2], v) for k, v in self._owners.items() if k[0] == hub_id and k[1] == group_id]
        rows.sort(key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
        return [Ownership(p, owner, utc(expires), expires <= now) for p, (owner, expires) in rows]
