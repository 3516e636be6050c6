"""The durable storage seam: instances, history, inboxes with instance leases, activity work items, entity state.

One ``DurableStore`` serves every task hub; each method names its hub and every record is keyed by it. The model:

* An **instance** row holds what the status API shows (name, status, input, output, custom status, times, parent)
  and the **history** of its current execution: event dicts in the wire format of the protocol (§2.2), opaque to
  the store.
* Everything that happens to an instance arrives as a message in its **inbox** (ExecutionStarted, TaskCompleted,
  TimerFired, EventRaised, terminate, suspend/resume, entity operations...). A message may be invisible until a time
  (a durable timer). ``lease_orchestrations`` hands each instance with its due messages to one worker at a time;
  ``commit_episode`` then writes the episode's outcome in ONE transaction and fails (False) when anyone else changed
  the instance in between, so history is written exactly once.
* **Activities** are work items with leases: a lease that expires makes the item claimable again (at least once);
  completing one deletes it and puts the result into the instance's inbox in one transaction.
* **Entities** (ids ``@name@key``) have an inbox and leases like orchestrations, and a state instead of a history.

Times are seconds since the epoch from the store's injectable ``clock``. Policy (what a message means, retries,
which status follows) belongs to the engine; the store only knows the two rules it must index: instances in
:data:`ACTIVE_STATUSES` keep their id (§7.2), and a Suspended instance is leased only for a resume or terminate
message (§7.5).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

EventDict = dict[str, Any]  # one history event or inbox message, as the JSON object of §2.2

# Runtime statuses (§7.1), stored and filtered by name: the values of overcast.durable.core.model.RuntimeStatus.
PENDING = "Pending"
RUNNING = "Running"
COMPLETED = "Completed"
CONTINUED_AS_NEW = "ContinuedAsNew"
FAILED = "Failed"
CANCELED = "Canceled"
TERMINATED = "Terminated"
SUSPENDED = "Suspended"
RUNTIME_STATUSES = (RUNNING, COMPLETED, CONTINUED_AS_NEW, FAILED, CANCELED, TERMINATED, PENDING, SUSPENDED)
# An instance in one of these holds its id: starting it again fails instead of replacing it (§7.2).
ACTIVE_STATUSES = frozenset({PENDING, RUNNING, SUSPENDED, CONTINUED_AS_NEW})
# EventType values (ExecutionTerminated, ExecutionResumed) whose message lets a Suspended instance run (§7.5).
WAKES_SUSPENDED = frozenset({3, 20})

DEFAULT_PAGE_SIZE = 100


# -- Records -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParentRef:
    """The orchestration that started a sub-orchestration: where its completion goes (ParentInstance of §7.10)."""

    instance_id: str
    execution_id: str
    task_scheduled_id: int
    name: str


@dataclass(frozen=True)
class InstanceRecord:
    """An orchestration instance as stored. ``input``/``output``/``custom_status`` are JSON text (or raw text)."""

    hub: str
    instance_id: str
    name: str
    version: str | None
    execution_id: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: float
    last_updated_time: float
    parent: ParentRef | None
    history_length: int  # events in the current execution's history; commit_episode checks it


@dataclass(frozen=True)
class InboxMessage:
    """A message waiting in an instance's (or entity's) inbox. ``id`` grows with every message of the store."""

    id: int
    instance_id: str
    execution_id: str | None  # the execution it belongs to (activity results, own timers); None: any
    event: EventDict
    visible_at: float
    created_time: float


@dataclass(frozen=True)
class NewMessage:
    """A message to deliver: ``visible_at`` in the future makes it a durable timer."""

    instance_id: str
    event: EventDict
    execution_id: str | None = None
    visible_at: float | None = None  # None: visible at once


@dataclass(frozen=True)
class NewOrchestration:
    """An instance to create with status Pending; ``started`` (its ExecutionStarted event) becomes its first message.

    An instance in :data:`ACTIVE_STATUSES` keeps the id; a finished one is replaced (history and inbox dropped).
    ``on_conflict`` (episode commits only): the message delivered instead when the id is held, e.g. the
    SubOrchestrationInstanceFailed the parent should see.
    """

    instance_id: str
    name: str
    execution_id: str
    input: str | None
    started: EventDict
    version: str | None = None
    parent: ParentRef | None = None
    on_conflict: NewMessage | None = None


@dataclass(frozen=True)
class InstanceUpdate:
    """The instance's state after an episode (all three fields are written)."""

    runtime_status: str
    output: str | None = None
    custom_status: str | None = None


@dataclass(frozen=True)
class HistoryReset:
    """Replace the history with the commit's events: continue-as-new (new execution id and input) or rewind."""

    execution_id: str
    input: str | None


@dataclass(frozen=True)
class ActivityRequest:
    """An activity to run for the committing instance; its result message carries ``task_id`` back."""

    name: str
    task_id: int  # TaskScheduledId
    input: str | None


@dataclass(frozen=True)
class EpisodeCommit:
    """Everything one episode writes, in one transaction (see ``commit_episode``)."""

    consumed: Sequence[int] = ()  # ids of the lease's messages this episode used: deleted
    events: Sequence[EventDict] = ()  # appended to the history (the whole new history with ``reset``)
    update: InstanceUpdate | None = None  # None: the instance row stays as it is
    reset: HistoryReset | None = None
    activities: Sequence[ActivityRequest] = ()
    messages: Sequence[NewMessage] = ()  # to any inbox: timers to itself, results to a parent, entity operations
    start: Sequence[NewOrchestration] = ()  # sub-orchestrations


@dataclass(frozen=True)
class Lease:
    """One worker's exclusive hold on an instance or entity until ``expires``, with the messages due when leased."""

    hub: str
    instance_id: str
    owner: str
    token: str
    expires: float
    messages: tuple[InboxMessage, ...]


@dataclass(frozen=True)
class OrchestrationLease(Lease):
    instance: InstanceRecord | None  # None: messages for an instance that does not exist (purged)
    history: tuple[EventDict, ...]


@dataclass(frozen=True)
class EntityLease(Lease):
    state: str | None  # None: the entity does not exist (yet, or any more)


@dataclass(frozen=True)
class ActivityWorkItem:
    hub: str
    id: int
    instance_id: str
    execution_id: str
    name: str
    task_id: int
    input: str | None
    dequeue_count: int  # 1 on the first lease; more means an earlier lease expired or was abandoned
    owner: str
    token: str
    expires: float


@dataclass(frozen=True)
class EntityRecord:
    hub: str
    entity_id: str  # "@name@key", the name lower-case
    state: str  # JSON text
    last_modified_time: float


@dataclass(frozen=True)
class InstanceQuery:
    """Filters of the list and purge APIs (§6.4); empty/None fields do not filter. Times are inclusive."""

    runtime_statuses: Collection[str] = ()
    created_from: float | None = None
    created_to: float | None = None
    instance_id_prefix: str = ""
    name: str | None = None

    def matches(self, record: InstanceRecord) -> bool:
        return (
            (not self.runtime_statuses or record.runtime_status in self.runtime_statuses)
            and (self.created_from is None or record.created_time >= self.created_from)
            and (self.created_to is None or record.created_time <= self.created_to)
            and record.instance_id.startswith(self.instance_id_prefix)
            and (self.name is None or record.name == self.name)
        )


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the token for the next one (None: this was the last page)."""

    items: list[T]
    continuation: str | None


# -- Protocols ---------------------------------------------------------------------------------------------------


class InstanceStore(Protocol):
    """Creating, reading, listing and purging orchestration instances (the client API's store side)."""

    def create_instance(self, hub: str, start: NewOrchestration) -> tuple[bool, InstanceRecord]:
        """Create the instance (Pending) and deliver ``start.started`` to it, atomically.

        (True, the new record); or (False, the record holding the id) when that instance is in ACTIVE_STATUSES.
        A finished instance with the id is replaced: its history, inbox and activities are dropped.
        """
        ...

    def get_instance(self, hub: str, instance_id: str) -> InstanceRecord | None: ...

    def get_history(self, hub: str, instance_id: str) -> list[EventDict]:
        """The current execution's history in order; [] for an unknown instance."""
        ...

    def query_instances(
        self, hub: str, query: InstanceQuery, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[InstanceRecord]:
        """Up to ``top`` matching InstanceRecords ordered by instance id, after the ``continuation`` of the
        previous page (opaque; StoreError when it is not one of ours)."""
        ...

    def purge_instance(self, hub: str, instance_id: str) -> bool:
        """Delete the instance, its history, inbox, lease and activities; False when it did not exist."""
        ...

    def purge_instances(self, hub: str, query: InstanceQuery) -> int:
        """Purge every matching instance (whatever its status: the caller filters); how many there were."""
        ...


class OrchestrationQueue(Protocol):
    """Inbox messages, instance leases and the one-transaction episode commit."""

    def send_message(self, hub: str, message: NewMessage) -> int:
        """Put a message into an inbox (the instance need not exist); its id."""
        ...

    def lease_orchestrations(
        self, hub: str, owner: str, duration: float, max_instances: int, max_messages: int = 1000
    ) -> list[OrchestrationLease]:
        """Lease up to ``max_instances`` instances in one transaction, each unless another unexpired lease holds it
        (and, when Suspended, only for a WAKES_SUSPENDED message), the instance whose oldest due message waits
        longest first; each with its record, history and up to ``max_messages`` due messages (visible_at <= now) in
        the order they became visible. Empty: nothing to do."""
        ...

    def commit_episode(self, lease: OrchestrationLease, commit: EpisodeCommit) -> bool:
        """In ONE transaction: append (or with ``reset`` replace) history, update the instance, create the
        activities, deliver the messages, start the sub-orchestrations, delete the consumed messages, release the
        lease. False, with nothing written and the lease released, when the lease was taken over or the instance
        changed (execution, history length, purged, created) since it was leased."""
        ...

    def release_lease(self, lease: Lease) -> None:
        """Give the instance back without committing (its messages stay); nothing when it was taken over."""
        ...

    def next_due_time(self, hub: str) -> float | None:
        """The earliest future time at which a message, activity or lease becomes claimable; None if none."""
        ...


class ActivityQueue(Protocol):
    """Activity work items: leased, renewed, abandoned, completed into the orchestration's inbox."""

    def lease_activities(self, hub: str, owner: str, duration: float, max_items: int = 1) -> list[ActivityWorkItem]:
        """Claim up to ``max_items`` claimable items (never leased, lease expired or abandoned), oldest first."""
        ...

    def renew_activity(self, item: ActivityWorkItem, duration: float) -> bool:
        """Extend the lease to ``duration`` s from now; False when another lease took the item or it is gone."""
        ...

    def abandon_activity(self, item: ActivityWorkItem, delay: float = 0.0) -> bool:
        """Make the item claimable again after ``delay`` s; False when the lease was lost."""
        ...

    def complete_activities(self, results: Sequence[tuple[ActivityWorkItem, EventDict]]) -> list[bool]:
        """In ONE transaction: for each item, delete it and deliver its ``result`` (TaskCompleted/TaskFailed) to its
        instance's inbox for its execution. One answer per item, in order: False (nothing written for it) when the
        item was leased again by someone else or gone; a lease that expired but was not taken over still completes.
        A refused item does not stop the others."""
        ...


class EntityStore(Protocol):
    """Entity inboxes, leases and state (leases release through OrchestrationQueue)."""

    def lease_next_entity(self, hub: str, owner: str, duration: float, max_messages: int = 100) -> EntityLease | None:
        """As lease_orchestrations (one instance), for entity ids (``@name@key``), with the entity's state."""
        ...

    def commit_entity_batch(
        self, lease: EntityLease, consumed: Sequence[int], state: str | None, messages: Sequence[NewMessage] = ()
    ) -> bool:
        """In ONE transaction: store ``state`` (None: the entity stops existing), deliver ``messages`` (responses),
        delete the consumed messages, release the lease. False, nothing written, when the lease was taken over."""
        ...

    def get_entity(self, hub: str, entity_id: str) -> EntityRecord | None: ...

    def query_entities(
        self, hub: str, name: str | None = None, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[EntityRecord]:
        """Existing entities (EntityRecords), of one lower-case ``name`` or all, ordered by id, paged."""
        ...


class DurableStore(InstanceStore, OrchestrationQueue, ActivityQueue, EntityStore, Protocol):
    """What every durable backend implements. Safe to use from several threads (and, for shared backends, from
    several processes at once)."""

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """The wake-up hook: call ``callback`` (from any thread, without re-entering the store) soon after a write
        gives a worker something to do, including another process's; returns the function that stops the calls.

        SQLite polls ``PRAGMA data_version``; a server backend would LISTEN for a notification. The engine still
        polls on its own, so a backend may call back late, or more often than needed, but must not block.
        """
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


# -- Helpers -----------------------------------------------------------------------------------------------------


def is_entity_id(instance_id: str) -> bool:
    """Entity ids are ``@name@key``; orchestration ids may not start with '@' (§7.2)."""
    return instance_id.startswith("@")
