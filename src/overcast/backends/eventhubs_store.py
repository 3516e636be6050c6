"""The Event Hubs store: partitioned, append-only event logs with consumer groups, checkpoints and ownership.

What the ``eventHub`` trigger and output bindings, and ``overcast eventhubs``, need from a backend. A hub has a
fixed number of partitions (ids ``"0"`` .. ``"n-1"``, as Event Hubs names them) and consumer groups
(``$Default`` always). Each partition is a log: an appended event gets the partition's next sequence number
(from 0), an offset (the byte position of its body in the partition, as a decimal string) and the store's
enqueued time. Events older than the hub's retention are gone. Readers keep their own position: a checkpoint per
(consumer group, partition) and an ownership record per (consumer group, partition) that expires unless renewed,
which is how the extension's processors share partitions between instances.

Partition keys are hashed to a partition exactly as the Event Hubs service and its .NET client do (Jenkins'
lookup3 over the key's UTF-8 bytes, :func:`partition_for_key`), so an app sees the same key land on the same
partition id as on Azure for the same partition count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from overcast.backends.changes import ChangeSource
from overcast.errors import StoreError

DEFAULT_CONSUMER_GROUP = "$Default"
DEFAULT_RETENTION = 24 * 3600.0  # Azure's default message retention for a new hub: one day
MAX_PARTITIONS = 32  # what Azure (Standard tier) and the Event Hubs emulator allow
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$")
_GROUP = re.compile(r"^(?:(?i:\$default)|[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?)$")
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class EventData:
    """An event to send: its body, application properties and partition key (None: the service picks)."""

    body: bytes
    properties: Mapping[str, Any] = field(default_factory=dict)
    partition_key: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    """An event as a partition holds it."""

    partition: str
    sequence_number: int
    offset: str
    enqueued_time: datetime  # tz-aware UTC
    body: bytes
    properties: Mapping[str, Any]
    partition_key: str | None


@dataclass(frozen=True)
class HubInfo:
    name: str  # as first declared or used (names compare without case)
    partition_count: int
    consumer_groups: tuple[str, ...]  # sorted; $Default first
    retention: float  # seconds
    created: datetime

    @property
    def partition_ids(self) -> list[str]:
        return [str(n) for n in range(self.partition_count)]


@dataclass(frozen=True)
class PartitionInfo:
    """A partition's extent: the retained sequence numbers (``begin > last`` when empty) and the last event's."""

    partition: str
    begin_sequence_number: int
    last_sequence_number: int  # -1 before the first event
    last_offset: str  # "-1" before the first event
    last_enqueued_time: datetime | None

    @property
    def is_empty(self) -> bool:
        return self.begin_sequence_number > self.last_sequence_number


@dataclass(frozen=True)
class Checkpoint:
    partition: str
    sequence_number: int  # the last event processed; reading resumes after it
    offset: str
    updated: datetime


@dataclass(frozen=True)
class Ownership:
    partition: str
    owner: str
    expires: datetime
    expired: bool


class EventHubsStore(ChangeSource, Protocol):
    """Event hubs on one backend. Every method is atomic and safe across threads and processes. Its changes
    (:mod:`overcast.backends.changes`) are named ``<hub key>/<partition id>``: events appended to a partition."""

    def ensure_hub(self, hub: str, partition_count: int, consumer_groups: Sequence[str] = (),
                   retention: float = DEFAULT_RETENTION) -> HubInfo:
        """The hub, created with these settings when missing; the consumer groups are added when missing (an
        existing hub keeps its partition count and retention: Event Hubs cannot shrink a hub)."""
        ...

    def hub(self, hub: str) -> HubInfo | None: ...

    def hubs(self) -> list[HubInfo]:
        """Every hub, by name."""
        ...

    def send(self, hub: str, events: Sequence[EventData], partition_id: str | None = None) -> list[StoredEvent]:
        """Append events in one transaction (in order). An event with a partition key goes to the key's partition
        (:func:`partition_for_key`); the keyless events of one call go together to ``partition_id`` or, when that
        is None, to the next partition of the hub's round robin. StoreError for a missing hub or partition, or a
        key and a ``partition_id`` that disagree (Event Hubs refuses both at once)."""
        ...

    def read(self, hub: str, partition: str, from_sequence: int, max_events: int) -> list[StoredEvent]:
        """Up to ``max_events`` retained events of a partition with sequence numbers ``>= from_sequence``, in
        order ([] when there are none)."""
        ...

    def partitions(self, hub: str) -> list[PartitionInfo]:
        """Each partition's extent, by partition id."""
        ...

    def sequence_at(self, hub: str, partition: str, enqueued_after: float) -> int:
        """The sequence number of the first retained event enqueued after ``enqueued_after`` (epoch seconds); the
        partition's next sequence number when there is none."""
        ...

    def set_checkpoint(self, hub: str, group: str, partition: str, sequence_number: int, offset: str) -> None: ...

    def checkpoints(self, hub: str, group: str) -> dict[str, Checkpoint]:
        """The consumer group's checkpoints, by partition."""
        ...

    def claim(self, hub: str, group: str, partition: str, owner: str, duration: float,
              steal_from: str | None = None) -> bool:
        """Take or renew the ownership of a partition for ``duration`` s: True when it was free, expired, already
        ``owner``'s, or held by ``steal_from`` (load balancing takes a partition from a busier instance)."""
        ...

    def release(self, hub: str, group: str, partition: str, owner: str) -> None:
        """Give up the ownership when ``owner`` holds it (an instance that stops), so another takes it at once."""
        ...

    def ownership(self, hub: str, group: str) -> list[Ownership]:
        """Every ownership record of the consumer group (expired ones too), by partition."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Helpers every backend shares --------------------------------------------------------------------------------


def hub_key(hub: str) -> str:
    """The stored key of a hub: Event Hubs names compare without case. StoreError for an invalid name."""
    if not isinstance(hub, str) or not _NAME.match(hub):
        raise StoreError(
            f"Event hub name {hub!r} is not valid: use 1-256 letters, digits, '.', '-' or '_', starting and "
            "ending with a letter or digit."
        )
    return hub.lower()


def check_group(group: str) -> str:
    """A consumer group name (``$Default`` or 1-50 letters, digits, '.', '-', '_'); its key ignores case."""
    if not isinstance(group, str) or not _GROUP.match(group):
        raise StoreError(
            f"Consumer group name {group!r} is not valid: use $Default or 1-50 letters, digits, '.', '-' or '_', "
            "starting and ending with a letter or digit."
        )
    return group.lower()


def check_partition_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PARTITIONS:
        raise StoreError(f"An event hub has 1 to {MAX_PARTITIONS} partitions, got {count!r}.")
    return count


def check_partition(info: HubInfo, partition: str) -> int:
    """The index of a partition id of the hub; StoreError naming the valid ids otherwise."""
    if isinstance(partition, str) and partition.isdigit() and int(partition) < info.partition_count \
            and str(int(partition)) == partition:
        return int(partition)
    raise StoreError(
        f"Event hub '{info.name}' has no partition {partition!r}; its partitions are 0 to {info.partition_count - 1}."
    )


def group_list(groups: Sequence[str]) -> list[str]:
    """The consumer groups to keep for a hub: $Default plus the given ones, each once (first spelling kept)."""
    seen: dict[str, str] = {DEFAULT_CONSUMER_GROUP.lower(): DEFAULT_CONSUMER_GROUP}
    for group in groups:
        seen.setdefault(check_group(group), group)
    return list(seen.values())


def sorted_groups(groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(groups, key=lambda g: (g.lower() != DEFAULT_CONSUMER_GROUP.lower(), g.lower())))


def encode_properties(properties: Mapping[str, Any]) -> str:
    """Application properties as the JSON every backend stores (keys must be strings)."""
    try:
        return json.dumps(dict(properties), separators=(",", ":"), default=_property_value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"Event properties cannot be stored: {exc}; use strings, numbers and booleans.") from None


def _property_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    raise TypeError(f"a property value of type {type(value).__name__}")


def target_partition(info: HubInfo, events: Sequence[EventData], partition_id: str | None,
                     round_robin: int) -> list[int]:
    """The partition index of each event of one send (see :meth:`EventHubsStore.send`)."""
    chosen = check_partition(info, partition_id) if partition_id is not None else round_robin % info.partition_count
    indexes = []
    for event in events:
        if event.partition_key is not None:
            by_key = partition_for_key(event.partition_key, info.partition_count)
            if partition_id is not None:
                raise StoreError(
                    f"An event for event hub '{info.name}' has both a partition key and a partition id; Event Hubs "
                    "accepts one or the other."
                )
            indexes.append(by_key)
        else:
            indexes.append(chosen)
    return indexes


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK32


def lookup3(data: bytes, seed1: int = 0, seed2: int = 0) -> tuple[int, int]:
    """Bob Jenkins' lookup3 ``hashlittle2`` over ``data``: the two 32-bit hashes (c, b)."""
    length = len(data)
    a = b = (0xDEADBEEF + length + seed1) & _MASK32
    c = (a + seed2) & _MASK32
    # Whole 12-byte blocks, leaving 1..12 bytes for the tail (0 only for empty input).
    blocks = (length - 1) // 12 if length > 12 else 0
    for i in range(blocks):
        base = i * 12
        a = (a + int.from_bytes(data[base:base + 4], "little")) & _MASK32
        b = (b + int.from_bytes(data[base + 4:base + 8], "little")) & _MASK32
        c = (c + int.from_bytes(data[base + 8:base + 12], "little")) & _MASK32
        a = ((a - c) & _MASK32) ^ _rot(c, 4)
        c = (c + b) & _MASK32
        b = ((b - a) & _MASK32) ^ _rot(a, 6)
        a = (a + c) & _MASK32
        c = ((c - b) & _MASK32) ^ _rot(b, 8)
        b = (b + a) & _MASK32
        a = ((a - c) & _MASK32) ^ _rot(c, 16)
        c = (c + b) & _MASK32
        b = ((b - a) & _MASK32) ^ _rot(a, 19)
        a = (a + c) & _MASK32
        c = ((c - b) & _MASK32) ^ _rot(b, 4)
        b = (b + a) & _MASK32
    tail = data[blocks * 12:]
    if not tail:
        return c, b
    padded = tail + bytes(12 - len(tail))  # the tail's missing bytes count as zeros
    a = (a + int.from_bytes(padded[0:4], "little")) & _MASK32
    b = (b + int.from_bytes(padded[4:8], "little")) & _MASK32
    c = (c + int.from_bytes(padded[8:12], "little")) & _MASK32
    c = (c ^ b) - _rot(b, 14) & _MASK32
    a = (a ^ c) - _rot(c, 11) & _MASK32
    b = (b ^ a) - _rot(a, 25) & _MASK32
    c = (c ^ b) - _rot(b, 16) & _MASK32
    a = (a ^ c) - _rot(c, 4) & _MASK32
    b = (b ^ a) - _rot(a, 14) & _MASK32
    c = (c ^ b) - _rot(b, 24) & _MASK32
    return c, b


def partition_hash(key: str) -> int:
    """The signed 16-bit hash Event Hubs computes for a partition key (``(short)(c ^ b)`` of lookup3)."""
    c, b = lookup3(key.encode("utf-8", "surrogatepass"))
    value = (c ^ b) & 0xFFFF
    return value - 0x10000 if value >= 0x8000 else value


def partition_for_key(key: str, partition_count: int) -> int:
    """The partition index a key maps to: ``abs(hash % count)`` with C#'s remainder (sign of the dividend)."""
    value = partition_hash(key)
    remainder = abs(value) % partition_count
    return remainder
