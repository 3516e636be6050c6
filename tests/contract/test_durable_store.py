"""The DurableStore contract (instances, history, inboxes with leases, activities, timers, entities), every backend.

Time is a FakeClock: tests move it instead of sleeping. Processes use the real clock, so tests that involve them
set the parent's clock from ``time.time()``. To add a backend (PostgreSQL, ...), add a line to ``BACKEND_CASES``
in conftest.py; every test below then runs against it.

``toy_episode`` / ``toy_worker`` are a minimal engine (a fan-out orchestration) that threads and processes run at
once to show that no result is lost and no history is written twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from overcast.backends import open_queue_store
from overcast.durable.store import (
    COMPLETED,
    CONTINUED_AS_NEW,
    FAILED,
    PENDING,
    RUNNING,
    SUSPENDED,
    TERMINATED,
    ActivityRequest,
    ActivityWorkItem,
    DurableStore,
    EpisodeCommit,
    EventDict,
    HistoryReset,
    InstanceQuery,
    InstanceRecord,
    InstanceUpdate,
    NewMessage,
    NewOrchestration,
    OrchestrationLease,
    ParentRef,
)
from overcast.durable.store.backends import open_durable_store
from overcast.durable.store.backends.sqlite import SqliteDurableStore
from overcast.errors import StoreError
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

HUB = "TestHub"
# The repository's root: a child process imports this module as ``tests.contract.test_durable_store`` from it.
ROOT = Path(__file__).resolve().parents[2]

# EventType values of §2.2 used below.
STARTED, COMPLETED_EVENT, TERMINATED_EVENT, SCHEDULED, TASK_DONE = 0, 1, 3, 4, 5
SUB_CREATED, SUB_FAILED, TIMER_CREATED, TIMER_FIRED, ORCH_STARTED = 7, 9, 10, 11, 12
RAISED, SUSPENDED_EVENT, RESUMED_EVENT = 15, 19, 20


@dataclass
class Backend:
    name: str
    storage: Storage
    clock: FakeClock
    opened: list[DurableStore] = field(default_factory=list)

    @property
    def persistent(self) -> bool:
        return self.storage.reopens

    def open(self, clock: Callable[[], float] | None = None) -> DurableStore:
        store = self.storage.backend(clock or self.clock).open_durable()
        self.opened.append(store)
        return store

    def child_setup(self) -> str:
        """Python statements that bind ``store`` (real clock) and the toy engine in another process."""
        setup = self.storage.child_setup(
            "open_durable", "import sys", f"sys.path.insert(0, {str(ROOT)!r})",
            "from tests.contract.test_durable_store import toy_worker",
        )
        assert setup is not None, f"the {self.name} store lives in one process"
        return setup


@pytest.fixture
def backend(storage: Storage, clock: FakeClock) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(storage.name, storage, clock)
    yield chosen
    for store in chosen.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> DurableStore:
    return backend.open()


def needs_files(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store lives in one process")


# -- builders ----------------------------------------------------------------------------------------------------


def lease_next(store: DurableStore, hub: str, owner: str, duration: float,
               max_messages: int = 1000) -> OrchestrationLease | None:
    """One lease of ``lease_orchestrations``, or None."""
    leases = store.lease_orchestrations(hub, owner, duration, 1, max_messages)
    return leases[0] if leases else None


def complete(store: DurableStore, item: ActivityWorkItem, result: EventDict) -> bool:
    """``complete_activities`` of one item."""
    [done] = store.complete_activities([(item, result)])
    return done



def ev(event_type: int, event_id: int = -1, **fields: Any) -> EventDict:
    return {"EventType": event_type, "EventId": event_id, "Timestamp": "2024-01-01T00:00:00Z", **fields}


def orchestration(instance_id: str, name: str = "hello", input_: str | None = '"x"',
                  parent: ParentRef | None = None, **kwargs: Any) -> NewOrchestration:
    execution_id = uuid.uuid4().hex
    started = ev(STARTED, Name=name, Input=input_,
                 OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id})
    return NewOrchestration(instance_id, name, execution_id, input_, started, parent=parent, **kwargs)


def start(store: DurableStore, instance_id: str, **kwargs: Any) -> InstanceRecord:
    created, record = store.create_instance(HUB, orchestration(instance_id, **kwargs))
    assert created
    return record


def lease(store: DurableStore, owner: str = "w1", duration: float = 30) -> OrchestrationLease:
    got = lease_next(store, HUB, owner, duration)
    assert got is not None, "expected an instance to lease"
    return got


def episode(leased: OrchestrationLease, *events: EventDict, status: str = RUNNING, output: str | None = None,
            **kwargs: Any) -> EpisodeCommit:
    """The usual commit: OrchestratorStarted, every leased message, ``events``; all messages consumed."""
    return EpisodeCommit(
        consumed=[m.id for m in leased.messages],
        events=[ev(ORCH_STARTED), *(m.event for m in leased.messages), *events],
        update=InstanceUpdate(status, output),
        **kwargs,
    )


def run(store: DurableStore, *events: EventDict, status: str = RUNNING, **kwargs: Any) -> OrchestrationLease:
    """Lease the next instance and commit an episode for it; the lease used."""
    leased = lease(store)
    assert store.commit_episode(leased, episode(leased, *events, status=status, **kwargs))
    return leased


def types(events: list[EventDict] | tuple[EventDict, ...]) -> list[int]:
    return [e["EventType"] for e in events]


# -- the toy engine ----------------------------------------------------------------------------------------------

FAN_OUT = 4


def toy_episode(leased: OrchestrationLease) -> EpisodeCommit:
    """Fan-out: on ExecutionStarted schedule FAN_OUT activities doubling 0..n-1; complete with the sum."""
    assert leased.instance is not None
    new: list[EventDict] = [ev(ORCH_STARTED)]
    activities = []
    for message in leased.messages:
        new.append(message.event)
        if message.event["EventType"] == STARTED:
            for task in range(FAN_OUT):
                new.append(ev(SCHEDULED, task, Name="double", Input=str(task)))
                activities.append(ActivityRequest("double", task, str(task)))
    results = {e["TaskScheduledId"]: int(e["Result"]) for e in [*leased.history, *new] if e["EventType"] == TASK_DONE}
    done = len(results) == FAN_OUT
    if done:
        new.append(ev(COMPLETED_EVENT, FAN_OUT, Result=str(sum(results.values()))))
    update = InstanceUpdate(COMPLETED, str(sum(results.values()))) if done else InstanceUpdate(RUNNING)
    return EpisodeCommit([m.id for m in leased.messages], new, update, activities=activities)


def toy_worker(store: DurableStore, owner: str, expected: int) -> dict[str, int]:
    """Run episodes and activities until ``expected`` instances are Completed; what this worker did."""
    stats = {"episodes": 0, "conflicts": 0, "activities": 0, "late": 0}
    deadline = time.monotonic() + 90  # a guard against a hang, not a timing assertion
    while True:
        busy = False
        leased = lease_next(store, HUB, owner, 60)
        if leased is not None:
            busy = True
            stats["episodes" if store.commit_episode(leased, toy_episode(leased)) else "conflicts"] += 1
        for item in store.lease_activities(HUB, owner, 60, max_items=3):
            busy = True
            result = ev(TASK_DONE, TaskScheduledId=item.task_id, Result=str(2 * int(item.input or "0")))
            stats["activities" if complete(store, item, result) else "late"] += 1
        if not busy:
            finished = store.query_instances(HUB, InstanceQuery(runtime_statuses=[COMPLETED]), top=1000).items
            if len(finished) == expected:
                return stats
            assert time.monotonic() < deadline, "the toy engine made no progress"
            time.sleep(0.001)


def assert_toy_results(store: DurableStore, ids: list[str]) -> None:
    expected_sum = str(sum(2 * task for task in range(FAN_OUT)))
    for instance_id in ids:
        record = store.get_instance(HUB, instance_id)
        assert record is not None and record.runtime_status == COMPLETED and record.output == expected_sum
        history = store.get_history(HUB, instance_id)
        scheduled = [e["EventId"] for e in history if e["EventType"] == SCHEDULED]
        completed = [e["TaskScheduledId"] for e in history if e["EventType"] == TASK_DONE]
        assert sorted(scheduled) == list(range(FAN_OUT)), "tasks scheduled twice or lost"
        assert sorted(completed) == list(range(FAN_OUT)), "a result was lost or recorded twice"
        assert types(history).count(STARTED) == 1
        assert record.history_length == len(history)
    assert lease_next(store, HUB, "checker", 30) is None
    assert store.lease_activities(HUB, "checker", 30) == []


# -- instances ---------------------------------------------------------------------------------------------------


def test_create_instance_is_pending_with_its_start_message(store: DurableStore, clock: FakeClock) -> None:
    parent = ParentRef("parent-1", "exec-p", 3, "parent_orch")
    new = orchestration("abc", name="chain", input_='{"n": 3}', parent=parent, version="1.0")
    created, record = store.create_instance(HUB, new)
    assert created
    assert record == InstanceRecord(HUB, "abc", "chain", "1.0", new.execution_id, PENDING, '{"n": 3}', None, None,
                                    clock.now, clock.now, parent, 0)
    assert store.get_instance(HUB, "abc") == record
    assert store.get_instance(HUB, "other") is None
    assert store.get_history(HUB, "abc") == []
    leased = lease(store)
    assert leased.instance == record and leased.history == ()
    [message] = leased.messages
    assert message.event == new.started
    assert (message.instance_id, message.execution_id, message.visible_at) == ("abc", new.execution_id, clock.now)


@pytest.mark.parametrize("status", [PENDING, RUNNING, SUSPENDED, CONTINUED_AS_NEW])
def test_an_active_instance_keeps_its_id(store: DurableStore, status: str) -> None:
    first = start(store, "dup")
    if status != PENDING:
        run(store, status=status)
    created, holder = store.create_instance(HUB, orchestration("dup", name="other"))
    assert not created
    assert (holder.execution_id, holder.runtime_status, holder.name) == (first.execution_id, status, "hello")


@pytest.mark.parametrize("status", [COMPLETED, FAILED, TERMINATED])
def test_a_finished_instance_is_replaced(store: DurableStore, clock: FakeClock, status: str) -> None:
    first = start(store, "again")
    run(store, ev(SCHEDULED, 0, Name="a"), status=status, output='"done"',
        activities=[ActivityRequest("a", 0, None)])
    store.send_message(HUB, NewMessage("again", ev(RAISED, Name="late")))
    clock.advance(10)
    second = orchestration("again", input_='"second"')
    created, record = store.create_instance(HUB, second)
    assert created
    assert record.execution_id != first.execution_id
    assert (record.runtime_status, record.input, record.output, record.created_time) == (
        PENDING, '"second"', None, clock.now)
    assert store.get_history(HUB, "again") == []
    assert store.lease_activities(HUB, "w", 30) == []  # the old execution's work is gone
    leased = lease(store)
    assert [m.event for m in leased.messages] == [second.started]  # so is its inbox


def test_commit_appends_history_and_updates_the_instance(store: DurableStore, clock: FakeClock) -> None:
    record = start(store, "i1")
    clock.advance(5)
    first = run(store, ev(TIMER_CREATED, 0, FireAt="x"), ev(13))
    after = store.get_instance(HUB, "i1")
    assert after is not None
    assert after.runtime_status == RUNNING
    assert after.created_time == record.created_time and after.last_updated_time == clock.now
    history = store.get_history(HUB, "i1")
    assert types(history) == [ORCH_STARTED, STARTED, TIMER_CREATED, 13]
    assert history[1] == first.messages[0].event
    assert after.history_length == 4
    store.send_message(HUB, NewMessage("i1", ev(RAISED, Name="go", Input='"v"')))
    second = lease(store)
    assert second.history == tuple(history)
    commit = EpisodeCommit([m.id for m in second.messages], [ev(ORCH_STARTED), second.messages[0].event],
                           InstanceUpdate(COMPLETED, '"out"', '{"p": 1}'))
    assert store.commit_episode(second, commit)
    final = store.get_instance(HUB, "i1")
    assert final is not None
    assert (final.runtime_status, final.output, final.custom_status, final.history_length) == (
        COMPLETED, '"out"', '{"p": 1}', 6)
    assert types(store.get_history(HUB, "i1"))[4:] == [ORCH_STARTED, RAISED]


def test_events_are_copied_not_shared(store: DurableStore) -> None:
    start(store, "copy")
    marker = ev(RAISED, Name="n", Input={"nested": [1, 2]})
    leased = lease(store)
    assert store.commit_episode(leased, episode(leased, marker))
    marker["Input"]["nested"].append(3)
    history = store.get_history(HUB, "copy")
    assert history[-1]["Input"] == {"nested": [1, 2]}
    history[-1]["Name"] = "changed"
    assert store.get_history(HUB, "copy")[-1]["Name"] == "n"


# -- leases and conflicts ----------------------------------------------------------------------------------------


def test_a_leased_instance_is_not_leased_again_until_its_lease_ends(store: DurableStore, clock: FakeClock) -> None:
    start(store, "a")
    start(store, "b")
    first = lease(store, "w1", 30)
    assert first.instance_id == "a" and first.expires == clock.now + 30
    second = lease(store, "w2", 30)
    assert second.instance_id == "b"
    assert lease_next(store, HUB, "w3", 30) is None
    store.release_lease(second)
    again = lease(store, "w3", 300)
    assert again.instance_id == "b" and again.messages == second.messages
    clock.advance(20)  # 20 s into a 30 s lease
    assert lease_next(store, HUB, "w4", 30) is None
    clock.advance(11)
    taken = lease(store, "w4", 30)
    assert taken.instance_id == "a" and taken.token != first.token
    store.release_lease(first)  # a lost lease: releasing does nothing
    assert lease_next(store, HUB, "w5", 30) is None


def test_commit_conflict_when_the_lease_expired_and_another_worker_committed(store: DurableStore,
                                                                            clock: FakeClock) -> None:
    start(store, "i")
    slow = lease(store, "slow", 30)
    clock.advance(31)
    fast = lease(store, "fast", 30)
    assert fast.messages == slow.messages
    assert store.commit_episode(fast, episode(fast, ev(TIMER_CREATED, 0)))
    assert not store.commit_episode(slow, episode(slow, ev(SCHEDULED, 0, Name="x"),
                                                  activities=[ActivityRequest("x", 0, None)]))
    assert types(store.get_history(HUB, "i")) == [ORCH_STARTED, STARTED, TIMER_CREATED]
    assert store.lease_activities(HUB, "w", 30) == []


def test_commit_conflict_when_the_expired_lease_was_taken_over(store: DurableStore, clock: FakeClock) -> None:
    """The first worker commits late while the second still runs: the first loses, the second wins."""
    start(store, "i")
    slow = lease(store, "slow", 30)
    clock.advance(31)
    fast = lease(store, "fast", 30)
    assert not store.commit_episode(slow, episode(slow, ev(TIMER_CREATED, 0)))
    assert store.commit_episode(fast, episode(fast, ev(SCHEDULED, 0, Name="x")))
    assert types(store.get_history(HUB, "i")) == [ORCH_STARTED, STARTED, SCHEDULED]


def test_an_expired_lease_still_commits_when_nobody_took_over(store: DurableStore, clock: FakeClock) -> None:
    start(store, "i")
    leased = lease(store, "w1", 30)
    clock.advance(300)
    assert store.commit_episode(leased, episode(leased))
    assert store.get_instance(HUB, "i") is not None


@pytest.mark.parametrize("change", ["purge", "replace"])
def test_commit_conflict_when_the_instance_changed_behind_the_lease(store: DurableStore, change: str) -> None:
    start(store, "i")
    run(store, status=COMPLETED)
    store.send_message(HUB, NewMessage("i", ev(RAISED, Name="late")))
    leased = lease(store)
    if change == "purge":
        assert store.purge_instance(HUB, "i")
    else:
        assert store.create_instance(HUB, orchestration("i"))[0]
    assert not store.commit_episode(leased, episode(leased, ev(TIMER_CREATED, 0), status=COMPLETED))
    if change == "replace":  # the conflicting commit freed the instance: its new execution runs
        fresh = lease(store, "w2")
        assert types([m.event for m in fresh.messages]) == [STARTED] and fresh.history == ()
    else:
        assert store.get_history(HUB, "i") == []


def test_messages_arriving_during_an_episode_wait_for_the_next_one(store: DurableStore) -> None:
    start(store, "i")
    leased = lease(store)
    store.send_message(HUB, NewMessage("i", ev(RAISED, Name="during")))
    assert lease_next(store, HUB, "w2", 30) is None  # the instance is busy
    assert store.commit_episode(leased, episode(leased))
    following = lease(store, "w2")
    assert [m.event["Name"] for m in following.messages] == ["during"]


def test_an_episode_may_consume_only_some_messages(store: DurableStore) -> None:
    start(store, "i")
    run(store)
    for name in ("one", "two", "three"):
        store.send_message(HUB, NewMessage("i", ev(RAISED, Name=name)))
    leased = lease(store)
    assert [m.event["Name"] for m in leased.messages] == ["one", "two", "three"]
    first = leased.messages[0]
    assert store.commit_episode(leased, EpisodeCommit([first.id], [ev(ORCH_STARTED), first.event],
                                                      InstanceUpdate(RUNNING)))
    assert [m.event["Name"] for m in lease(store).messages] == ["two", "three"]


def test_the_oldest_waiting_message_is_served_first_and_max_messages_caps_a_lease(store: DurableStore,
                                                                                  clock: FakeClock) -> None:
    for instance_id in ("z", "y", "x"):
        start(store, instance_id)
        clock.advance(1)
    for i in range(5):
        store.send_message(HUB, NewMessage("z", ev(RAISED, Name=f"e{i}")))
    assert [lease(store, f"w{i}").instance_id for i in range(3)] == ["z", "y", "x"]
    clock.advance(31)
    capped = lease_next(store, HUB, "w9", 30, max_messages=2)
    assert capped is not None and capped.instance_id == "z"
    assert types([m.event for m in capped.messages]) == [STARTED, RAISED]


def test_messages_for_an_unknown_instance_can_be_consumed(store: DurableStore) -> None:
    store.send_message(HUB, NewMessage("ghost", ev(TASK_DONE, TaskScheduledId=0, Result="1"), "exec-gone"))
    leased = lease(store)
    assert leased.instance is None and leased.history == ()
    with pytest.raises(StoreError, match="does not exist"):
        store.commit_episode(leased, EpisodeCommit([leased.messages[0].id], [ev(ORCH_STARTED)]))
    assert store.commit_episode(leased, EpisodeCommit([leased.messages[0].id]))
    assert lease_next(store, HUB, "w", 30) is None
    assert store.get_instance(HUB, "ghost") is None


# -- timers, suspension ------------------------------------------------------------------------------------------


def test_timers_are_invisible_until_due(store: DurableStore, clock: FakeClock) -> None:
    start(store, "t")
    leased = run(store, ev(TIMER_CREATED, 0, FireAt="later"))
    assert leased.instance is not None
    fire_at = clock.now + 60
    store.send_message(HUB, NewMessage("t", ev(TIMER_FIRED, TimerId=0), leased.instance.execution_id, fire_at))
    assert store.next_due_time(HUB) == fire_at
    assert lease_next(store, HUB, "w", 30) is None
    clock.advance(59.9)
    assert lease_next(store, HUB, "w", 30) is None
    clock.advance(0.1)
    fired = lease(store)
    [message] = fired.messages
    assert message.event["EventType"] == TIMER_FIRED and message.visible_at == fire_at
    assert store.commit_episode(fired, episode(fired, status=COMPLETED))
    assert store.next_due_time(HUB) is None


def test_a_timer_created_by_an_episode_orders_by_its_fire_time(store: DurableStore, clock: FakeClock) -> None:
    start(store, "t")
    leased = lease(store)
    assert leased.instance is not None
    timers = [NewMessage("t", ev(TIMER_FIRED, TimerId=i), leased.instance.execution_id, clock.now + delay)
              for i, delay in ((0, 20), (1, 10))]
    assert store.commit_episode(leased, episode(leased, messages=timers))
    assert store.next_due_time(HUB) == clock.now + 10
    clock.advance(5)
    store.send_message(HUB, NewMessage("t", ev(RAISED, Name="meanwhile")))
    store.release_lease(lease(store))  # the event alone is due now; the timers stay hidden
    clock.advance(30)
    assert [m.event.get("TimerId", m.event.get("Name")) for m in lease(store).messages] == ["meanwhile", 1, 0]


def test_next_due_time_covers_activities_and_leases(store: DurableStore, clock: FakeClock) -> None:
    assert store.next_due_time(HUB) is None
    start(store, "i")
    run(store, ev(SCHEDULED, 0, Name="a"), activities=[ActivityRequest("a", 0, None)])
    assert store.next_due_time(HUB) is None  # everything is claimable now
    [item] = store.lease_activities(HUB, "w", 45)
    assert store.next_due_time(HUB) == clock.now + 45
    store.send_message(HUB, NewMessage("i", ev(RAISED, Name="x")))
    lease(store, "w", 20)
    assert store.next_due_time(HUB) == clock.now + 20
    assert store.abandon_activity(item, delay=5)
    assert store.next_due_time(HUB) == clock.now + 5


def test_a_suspended_instance_waits_for_resume_or_terminate(store: DurableStore) -> None:
    start(store, "s")
    run(store)
    store.send_message(HUB, NewMessage("s", ev(SUSPENDED_EVENT, Reason="pause")))
    run(store, status=SUSPENDED)
    store.send_message(HUB, NewMessage("s", ev(RAISED, Name="queued")))
    store.send_message(HUB, NewMessage("s", ev(TASK_DONE, TaskScheduledId=0, Result="1")))
    assert lease_next(store, HUB, "w", 30) is None
    store.send_message(HUB, NewMessage("s", ev(RESUMED_EVENT, Reason="go")))
    resumed = lease(store)
    assert types([m.event for m in resumed.messages]) == [RAISED, TASK_DONE, RESUMED_EVENT]
    assert store.commit_episode(resumed, episode(resumed, status=SUSPENDED))  # still suspended: parked again
    store.send_message(HUB, NewMessage("s", ev(RAISED, Name="more")))
    assert lease_next(store, HUB, "w", 30) is None
    store.send_message(HUB, NewMessage("s", ev(TERMINATED_EVENT, Input="stop")))
    assert types([m.event for m in lease(store).messages]) == [RAISED, TERMINATED_EVENT]


# -- continue-as-new, rewind, sub-orchestrations -----------------------------------------------------------------


def test_continue_as_new_replaces_the_history_and_keeps_undelivered_messages(store: DurableStore) -> None:
    first = start(store, "c", input_='"1"')
    leased = lease(store)
    store.send_message(HUB, NewMessage("c", ev(RAISED, Name="carried")))
    new_execution = uuid.uuid4().hex
    restarted = ev(STARTED, Name="hello", Input='"2"')
    commit = EpisodeCommit(
        consumed=[m.id for m in leased.messages],
        update=InstanceUpdate(CONTINUED_AS_NEW),
        reset=HistoryReset(new_execution, '"2"'),
        messages=[NewMessage("c", restarted, new_execution)],
    )
    assert store.commit_episode(leased, commit)
    record = store.get_instance(HUB, "c")
    assert record is not None
    assert (record.execution_id, record.input, record.runtime_status, record.history_length) == (
        new_execution, '"2"', CONTINUED_AS_NEW, 0)
    assert record.created_time == first.created_time
    assert store.get_history(HUB, "c") == []
    following = lease(store)
    assert [m.event["Name"] for m in following.messages] == ["carried", "hello"]  # carried first: it came first
    assert (following.messages[1].event, following.messages[1].execution_id) == (restarted, new_execution)
    assert store.commit_episode(following, episode(following, ev(SCHEDULED, 0, Name="a"),
                                                   activities=[ActivityRequest("a", 0, '"2"')]))
    [item] = store.lease_activities(HUB, "w", 30)
    assert item.execution_id == new_execution


def test_rewind_rewrites_the_history_of_the_same_execution(store: DurableStore) -> None:
    record = start(store, "r")
    run(store, ev(SCHEDULED, 0, Name="a"), activities=[ActivityRequest("a", 0, None)])
    [item] = store.lease_activities(HUB, "w", 30)
    assert complete(store, item, ev(6, TaskScheduledId=0, Reason="boom"))
    run(store, status=FAILED, output="Orchestrator function 'hello' failed: boom")
    store.send_message(HUB, NewMessage("r", ev(21, Reason="retry")))
    rewinding = lease(store)
    kept = [e for e in rewinding.history if e["EventType"] != 6]
    assert store.commit_episode(rewinding, EpisodeCommit(
        consumed=[m.id for m in rewinding.messages], events=kept, update=InstanceUpdate(RUNNING),
        reset=HistoryReset(record.execution_id, record.input), activities=[ActivityRequest("a", 0, None)]))
    assert store.get_history(HUB, "r") == kept
    after = store.get_instance(HUB, "r")
    assert after is not None and after.runtime_status == RUNNING and after.output is None
    assert [i.task_id for i in store.lease_activities(HUB, "w", 30)] == [0]


def test_sub_orchestrations_start_with_the_commit(store: DurableStore) -> None:
    start(store, "parent")
    leased = lease(store)
    assert leased.instance is not None
    ref = ParentRef("parent", leased.instance.execution_id, 0, "hello")
    child = orchestration("child", name="kid", input_='"in"', parent=ref)
    assert store.commit_episode(leased, episode(leased, ev(SUB_CREATED, 0, Name="kid", InstanceId="child"),
                                                start=[child]))
    record = store.get_instance(HUB, "child")
    assert record is not None
    assert (record.runtime_status, record.name, record.input, record.parent) == (PENDING, "kid", '"in"', ref)
    assert [m.event for m in lease(store).messages] == [child.started]


def test_a_sub_orchestration_whose_id_is_taken_delivers_the_conflict_message(store: DurableStore) -> None:
    start(store, "busy")
    run(store)  # busy is Running
    start(store, "parent")
    leased = lease(store)
    assert leased.instance is not None and leased.instance_id == "parent"
    failure = NewMessage("parent", ev(SUB_FAILED, TaskScheduledId=0, Reason="id taken"),
                         leased.instance.execution_id)
    child = orchestration("busy", name="kid", on_conflict=failure)
    assert store.commit_episode(leased, episode(leased, start=[child]))
    busy = store.get_instance(HUB, "busy")
    assert busy is not None and busy.name == "hello" and busy.runtime_status == RUNNING
    answer = lease(store)
    assert answer.instance_id == "parent"
    assert [m.event["Reason"] for m in answer.messages] == ["id taken"]


# -- activities --------------------------------------------------------------------------------------------------


def test_activities_run_and_their_results_reach_the_inbox(store: DurableStore, clock: FakeClock) -> None:
    start(store, "a")
    leased = run(store, ev(SCHEDULED, 0, Name="one"), ev(SCHEDULED, 1, Name="two"),
                 activities=[ActivityRequest("one", 0, '"x"'), ActivityRequest("two", 1, None)])
    assert leased.instance is not None
    items = store.lease_activities(HUB, "w", 30, max_items=5)
    assert [(i.name, i.task_id, i.input, i.dequeue_count) for i in items] == [("one", 0, '"x"', 1), ("two", 1, None, 1)]
    assert {(i.instance_id, i.execution_id, i.owner, i.expires) for i in items} == {
        ("a", leased.instance.execution_id, "w", clock.now + 30)}
    assert store.lease_activities(HUB, "w2", 30) == []
    assert complete(store, items[1], ev(TASK_DONE, TaskScheduledId=1, Result='"2"'))
    assert not complete(store, items[1], ev(TASK_DONE, TaskScheduledId=1, Result='"2"'))
    [message] = lease(store).messages
    assert message.event["TaskScheduledId"] == 1 and message.execution_id == leased.instance.execution_id


def test_an_activity_whose_lease_expires_runs_again_and_only_one_result_counts(store: DurableStore,
                                                                              clock: FakeClock) -> None:
    start(store, "a")
    run(store, ev(SCHEDULED, 0, Name="slow"), activities=[ActivityRequest("slow", 0, None)])
    [first] = store.lease_activities(HUB, "w1", 30)
    clock.advance(29)
    assert store.renew_activity(first, 30)
    clock.advance(29)
    assert store.lease_activities(HUB, "w2", 30) == []  # renewed: still w1's
    clock.advance(2)
    [second] = store.lease_activities(HUB, "w2", 30)  # w1 looks dead: at least once
    assert second.id == first.id and second.dequeue_count == 2 and second.token != first.token
    assert not complete(store, first, ev(TASK_DONE, TaskScheduledId=0, Result='"w1"'))
    assert not store.renew_activity(first, 30)
    assert not store.abandon_activity(first)
    assert complete(store, second, ev(TASK_DONE, TaskScheduledId=0, Result='"w2"'))
    assert [m.event["Result"] for m in lease(store).messages] == ['"w2"']


def test_an_expired_activity_lease_still_completes_when_nobody_took_over(store: DurableStore,
                                                                        clock: FakeClock) -> None:
    start(store, "a")
    run(store, ev(SCHEDULED, 0, Name="x"), activities=[ActivityRequest("x", 0, None)])
    [item] = store.lease_activities(HUB, "w1", 30)
    clock.advance(100)
    assert complete(store, item, ev(TASK_DONE, TaskScheduledId=0, Result="1"))
    assert store.lease_activities(HUB, "w2", 30) == []


def test_an_abandoned_activity_comes_back_after_its_delay(store: DurableStore, clock: FakeClock) -> None:
    start(store, "a")
    run(store, ev(SCHEDULED, 0, Name="x"), activities=[ActivityRequest("x", 0, None)])
    [item] = store.lease_activities(HUB, "w1", 300)
    assert store.abandon_activity(item, delay=10)
    assert not complete(store, item, ev(TASK_DONE, TaskScheduledId=0, Result="1"))
    clock.advance(9)
    assert store.lease_activities(HUB, "w2", 30) == []
    clock.advance(1)
    [again] = store.lease_activities(HUB, "w2", 30)
    assert again.dequeue_count == 2
    with pytest.raises(StoreError, match="negative"):
        store.abandon_activity(again, delay=-1)


# -- entities ----------------------------------------------------------------------------------------------------


def test_entity_operations_are_leased_in_order_and_state_is_kept(store: DurableStore, clock: FakeClock) -> None:
    start(store, "caller")
    for op in ("add", "add", "get"):
        store.send_message(HUB, NewMessage("@counter@k1", {"op": op, "id": op}))
    store.send_message(HUB, NewMessage("@counter@k2", {"op": "add"}))
    assert run(store).instance_id == "caller"  # orchestration leases never hand out entities
    assert lease_next(store, HUB, "w", 30) is None
    batch = store.lease_next_entity(HUB, "w1", 30)
    assert batch is not None and batch.instance_id == "@counter@k1" and batch.state is None
    assert [m.event["op"] for m in batch.messages] == ["add", "add", "get"]
    other = store.lease_next_entity(HUB, "w2", 30)
    assert other is not None and other.instance_id == "@counter@k2"
    assert store.lease_next_entity(HUB, "w3", 30) is None
    reply = NewMessage("caller", ev(RAISED, Name="get", Input='{"result": "2"}'))
    assert store.commit_entity_batch(batch, [m.id for m in batch.messages], "2", [reply])
    entity = store.get_entity(HUB, "@counter@k1")
    assert entity is not None and (entity.state, entity.last_modified_time) == ("2", clock.now)
    assert [m.event["Name"] for m in lease(store).messages] == ["get"]
    store.send_message(HUB, NewMessage("@counter@k1", {"op": "delete"}))
    again = store.lease_next_entity(HUB, "w1", 30)
    assert again is not None and again.state == "2"
    assert store.commit_entity_batch(again, [m.id for m in again.messages], None)
    assert store.get_entity(HUB, "@counter@k1") is None


def test_an_entity_batch_conflicts_when_its_lease_was_taken_over(store: DurableStore, clock: FakeClock) -> None:
    store.send_message(HUB, NewMessage("@e@k", {"op": "set"}))
    slow = store.lease_next_entity(HUB, "slow", 30)
    assert slow is not None
    clock.advance(31)
    fast = store.lease_next_entity(HUB, "fast", 30)
    assert fast is not None and fast.messages == slow.messages
    assert store.commit_entity_batch(fast, [m.id for m in fast.messages], '"fast"')
    assert not store.commit_entity_batch(slow, [m.id for m in slow.messages], '"slow"')
    entity = store.get_entity(HUB, "@e@k")
    assert entity is not None and entity.state == '"fast"'


def test_entities_list_by_name_in_pages(store: DurableStore) -> None:
    ids = [f"@counter@{i:02d}" for i in range(12)] + ["@other@a", "@count@b"]
    for entity_id in ids:
        store.send_message(HUB, NewMessage(entity_id, {"op": "init"}))
    while (batch := store.lease_next_entity(HUB, "w", 30)) is not None:
        assert store.commit_entity_batch(batch, [m.id for m in batch.messages], "0")
    seen, token = [], None
    while True:
        page = store.query_entities(HUB, "counter", top=5, continuation=token)
        seen += [e.entity_id for e in page.items]
        if page.continuation is None:
            break
        token = page.continuation
    assert seen == sorted(ids[:12])
    assert [e.entity_id for e in store.query_entities(HUB).items] == sorted(ids)


# -- listing and purging -----------------------------------------------------------------------------------------

STATUS_CYCLE = [COMPLETED, RUNNING, FAILED, PENDING, TERMINATED]


def _populate(store: DurableStore, clock: FakeClock, count: int) -> dict[str, tuple[str, float]]:
    """``count`` instances (ids inst-000..., every 10th named 'other-...') with statuses cycling; id -> (status,
    created time)."""
    made: dict[str, tuple[str, float]] = {}
    for i in range(count):
        instance_id = f"other-{i:03d}" if i % 10 == 9 else f"inst-{i:03d}"
        start(store, instance_id, name="even" if i % 2 == 0 else "odd")
        made[instance_id] = (STATUS_CYCLE[i % len(STATUS_CYCLE)], clock.now)
        clock.advance(1)
    for _ in range(count):  # settle them in creation order: every lease takes the oldest start message
        leased = lease(store)
        status = made[leased.instance_id][0]
        if status != PENDING:  # a Pending one stays leased, so the next lease takes the next instance
            assert store.commit_episode(leased, episode(leased, status=status))
    return made


def _all_pages(store: DurableStore, query: InstanceQuery, top: int) -> tuple[list[str], int]:
    seen: list[str] = []
    token, pages = None, 0
    while True:
        page = store.query_instances(HUB, query, top=top, continuation=token)
        pages += 1
        assert len(page.items) <= top
        seen += [r.instance_id for r in page.items]
        if page.continuation is None:
            return seen, pages
        assert isinstance(page.continuation, str) and page.continuation.isascii()
        token = page.continuation


def test_paging_through_250_instances_with_filters(store: DurableStore, clock: FakeClock) -> None:
    made = _populate(store, clock, 250)
    created = sorted(t for _, t in made.values())
    cases: list[tuple[InstanceQuery, Callable[[str, str, float], bool]]] = [
        (InstanceQuery(), lambda i, s, t: True),
        (InstanceQuery(runtime_statuses=[COMPLETED, FAILED]), lambda i, s, t: s in (COMPLETED, FAILED)),
        (InstanceQuery(instance_id_prefix="inst-1"), lambda i, s, t: i.startswith("inst-1")),
        (InstanceQuery(created_from=created[40], created_to=created[199]),
         lambda i, s, t: created[40] <= t <= created[199]),
        (InstanceQuery(runtime_statuses=[RUNNING], created_from=created[100], instance_id_prefix="inst-"),
         lambda i, s, t: s == RUNNING and t >= created[100] and i.startswith("inst-")),
        (InstanceQuery(name="odd", runtime_statuses=[PENDING]), lambda i, s, t: s == PENDING and int(i[-3:]) % 2),
        (InstanceQuery(instance_id_prefix="nothing"), lambda i, s, t: False),
    ]
    for query, keep in cases:
        expected = sorted(i for i, (s, t) in made.items() if keep(i, s, t))
        for top in (1, 7, 100, 1000):
            seen, pages = _all_pages(store, query, top)
            assert seen == expected, (query, top)
            assert pages == max(1, -(-len(expected) // top))  # no empty last page
    page = store.query_instances(HUB, InstanceQuery(), top=3)
    assert [r.runtime_status for r in page.items] == [COMPLETED, RUNNING, FAILED]
    assert page.items[0] == store.get_instance(HUB, "inst-000")


def test_a_continuation_token_survives_changes_between_pages(store: DurableStore, clock: FakeClock) -> None:
    for i in range(6):
        start(store, f"i{i}")
    first = store.query_instances(HUB, InstanceQuery(), top=3)
    assert [r.instance_id for r in first.items] == ["i0", "i1", "i2"]
    store.purge_instance(HUB, "i3")
    start(store, "i10")  # sorts between i1 and i2: before the token, so not on the next page
    rest = store.query_instances(HUB, InstanceQuery(), top=3, continuation=first.continuation)
    assert [r.instance_id for r in rest.items] == ["i4", "i5"] and rest.continuation is None


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjogMX0=", "bm90IGpzb24=", "W10=", "Ã©"])
def test_a_foreign_continuation_token_is_rejected(store: DurableStore, token: str) -> None:
    with pytest.raises(StoreError, match="continuation token"):
        store.query_instances(HUB, InstanceQuery(), continuation=token)
    with pytest.raises(StoreError, match="continuation token"):
        store.query_entities(HUB, continuation=token)


def test_purge_one_instance_removes_everything_it_owns(store: DurableStore) -> None:
    start(store, "p")
    run(store, ev(SCHEDULED, 0, Name="a"), activities=[ActivityRequest("a", 0, None)])
    store.send_message(HUB, NewMessage("p", ev(RAISED, Name="x"), visible_at=2e9))
    start(store, "keep")
    assert store.purge_instance(HUB, "p")
    assert not store.purge_instance(HUB, "p")
    assert store.get_instance(HUB, "p") is None and store.get_history(HUB, "p") == []
    assert store.lease_activities(HUB, "w", 30) == []
    assert store.next_due_time(HUB) is None  # the timer went too
    assert lease(store).instance_id == "keep"


def test_purge_by_filter(store: DurableStore, clock: FakeClock) -> None:
    made = _populate(store, clock, 60)
    created = sorted(t for _, t in made.values())
    query = InstanceQuery(runtime_statuses=[COMPLETED, FAILED, TERMINATED], created_from=created[0],
                          created_to=created[29])
    doomed = {i for i, (s, t) in made.items() if s in (COMPLETED, FAILED, TERMINATED) and t <= created[29]}
    assert store.purge_instances(HUB, query) == len(doomed) == 18
    assert store.purge_instances(HUB, query) == 0
    left, _ = _all_pages(store, InstanceQuery(), 100)
    assert left == sorted(set(made) - doomed)
    assert all(store.get_history(HUB, i) == [] for i in doomed)
    others = [i for i in left if i.startswith("other-")]
    assert len(others) == 3  # 6 were made, 3 of them purged above
    assert store.purge_instances(HUB, InstanceQuery(instance_id_prefix="other-")) == len(others)
    assert _all_pages(store, InstanceQuery(), 100)[0] == sorted(set(left) - set(others))


# -- hubs, validation, lifecycle ---------------------------------------------------------------------------------


def test_hubs_are_isolated(store: DurableStore) -> None:
    start(store, "same")
    created, record = store.create_instance("OtherHub", orchestration("same", name="elsewhere"))
    assert created and record.hub == "OtherHub"
    store.send_message("OtherHub", NewMessage("@e@k", {"op": "x"}))
    assert store.lease_next_entity(HUB, "w", 30) is None
    leased = lease_next(store, "OtherHub", "w", 30)
    assert leased is not None and leased.instance is not None and leased.instance.name == "elsewhere"
    assert lease(store).instance is not None
    assert [r.hub for r in store.query_instances(HUB, InstanceQuery()).items] == [HUB]
    assert store.purge_instances("OtherHub", InstanceQuery()) == 1
    assert store.get_instance(HUB, "same") is not None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.send_message(HUB, NewMessage("i", {"bad": {1, 2}})), "cannot be stored"),
        (lambda s: s.send_message(HUB, NewMessage("i", {"nan": float("nan")})), "cannot be stored"),
        (lambda s: s.send_message(HUB, NewMessage("", ev(RAISED))), "needs the id"),
        (lambda s: s.send_message("", NewMessage("i", ev(RAISED))), "hub"),
        (lambda s: s.create_instance(HUB, orchestration("@entity@k")), "not start with '@'"),
        (lambda s: s.create_instance(HUB, orchestration("x", name="")), "orchestrator name"),
        (lambda s: lease_next(s, HUB, "w", 0), "positive"),
        (lambda s: lease_next(s, HUB, "", 30), "owner"),
        (lambda s: s.lease_activities(HUB, "w", 30, max_items=0), "at least 1"),
        (lambda s: s.query_instances(HUB, InstanceQuery(runtime_statuses=["running"])), "Unknown runtime status"),
        (lambda s: s.query_instances(HUB, InstanceQuery(), top=0), "at least 1"),
        (lambda s: s.purge_instances(HUB, InstanceQuery(runtime_statuses=["Done"])), "Unknown runtime status"),
    ],
)
def test_invalid_calls_are_rejected_and_change_nothing(store: DurableStore, call: Callable[[DurableStore], Any],
                                                       match: str) -> None:
    with pytest.raises(StoreError, match=match):
        call(store)
    assert lease_next(store, HUB, "w", 30) is None
    assert store.query_instances(HUB, InstanceQuery()).items == []


def test_an_unstorable_commit_writes_nothing(store: DurableStore) -> None:
    start(store, "i")
    leased = lease(store)
    bad = episode(leased, ev(SCHEDULED, 0, Name="a"), activities=[ActivityRequest("a", 0, None)],
                  messages=[NewMessage("other", {"x": object()})])
    with pytest.raises(StoreError, match="cannot be stored"):
        store.commit_episode(leased, bad)
    with pytest.raises(StoreError, match="Unknown runtime status"):
        store.commit_episode(leased, episode(leased, status="Done"))
    assert store.get_history(HUB, "i") == []
    assert store.lease_activities(HUB, "w", 30) == []
    assert store.commit_episode(leased, episode(leased))  # the lease is intact


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    start(store, "i")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_instance(HUB, "i")
    with pytest.raises(StoreError, match="closed"):
        lease_next(store, HUB, "w", 30)
    store.close()  # closing twice is harmless


def test_everything_survives_reopening(backend: Backend, clock: FakeClock) -> None:
    needs_files(backend)
    first = backend.open()
    record = start(first, "kept")
    leased = lease(first)
    assert first.commit_episode(leased, episode(leased, ev(SCHEDULED, 0, Name="a"),
                                                activities=[ActivityRequest("a", 0, '"in"')]))
    first.send_message(HUB, NewMessage("kept", ev(TIMER_FIRED, TimerId=1), record.execution_id, clock.now + 60))
    first.send_message(HUB, NewMessage("@e@k", {"op": "x"}))
    [item] = first.lease_activities(HUB, "crashed", 30)
    history = first.get_history(HUB, "kept")
    first.close()  # the "crash": the activity was in flight

    second = backend.open()
    assert second.get_instance(HUB, "kept") == InstanceRecord(
        HUB, "kept", "hello", None, record.execution_id, RUNNING, '"x"', None, None, record.created_time,
        record.created_time, None, len(history))
    assert second.get_history(HUB, "kept") == history
    assert second.lease_activities(HUB, "w2", 30) == []  # its lease still holds...
    clock.advance(31)
    [again] = second.lease_activities(HUB, "w2", 30)  # ...until it expires: it runs again
    assert (again.id, again.input, again.dequeue_count) == (item.id, '"in"', 2)
    assert complete(second, again, ev(TASK_DONE, TaskScheduledId=0, Result="1"))
    clock.advance(30)
    woken = lease(second)
    assert types([m.event for m in woken.messages]) == [TASK_DONE, TIMER_FIRED]
    assert second.lease_next_entity(HUB, "w2", 30) is not None


# -- concurrency -------------------------------------------------------------------------------------------------


def test_threads_leasing_at_once_never_share_an_instance(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    for i in range(40):
        start(stores[0], f"i{i:02d}")

    def take(index: int) -> list[str]:
        store, got = stores[index % len(stores)], []
        while (leased := lease_next(store, HUB, f"w{index}", 600)) is not None:
            got.append(leased.instance_id)
        return got

    results = race_threads(4, take)
    taken = [i for ids in results for i in ids]
    assert sorted(taken) == [f"i{i:02d}" for i in range(40)]


def test_threads_run_episodes_and_activities_without_losing_a_result(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    ids = [f"fan-{i:02d}" for i in range(12)]
    for instance_id in ids:
        start(stores[0], instance_id)
    results = race_threads(4, lambda i: toy_worker(stores[i % len(stores)], f"w{i}", len(ids)))
    assert sum(r["activities"] for r in results) == len(ids) * FAN_OUT  # leases never expired: exactly once
    assert sum(r["episodes"] for r in results) >= len(ids) * 2
    assert_toy_results(stores[0], ids)


def test_processes_run_episodes_and_activities_without_losing_a_result(backend: Backend) -> None:
    needs_files(backend)
    store = backend.open(time.time)
    ids = [f"proc-{i:02d}" for i in range(40)]
    for instance_id in ids:
        start(store, instance_id)
    body = f"result = toy_worker(store, 'p' + sys.argv[1], {len(ids)})\n"
    results = race_processes(backend.child_setup(), body, children=2)
    assert sum(r["activities"] for r in results) == len(ids) * FAN_OUT  # leases never expired: exactly once
    assert sum(r["episodes"] for r in results) >= len(ids) * 2
    assert_toy_results(store, ids)


def test_a_killed_process_loses_nothing_and_its_work_resumes(backend: Backend) -> None:
    """SIGKILL after one activity completed, another was in flight and an episode was leased: the completed result
    is kept, the in-flight activity runs again, the episode runs again, nothing runs twice otherwise."""
    needs_files(backend)
    parent_clock = FakeClock(time.time())
    store = backend.open(parent_clock)
    start(store, "victim")
    leased = lease(store)
    work = [ActivityRequest("a", 0, "0"), ActivityRequest("b", 1, "1")]
    assert store.commit_episode(leased, episode(leased, ev(SCHEDULED, 0, Name="a"), ev(SCHEDULED, 1, Name="b"),
                                                activities=work))
    child = (
        backend.child_setup()
        + "from tests.contract.test_durable_store import HUB, ev, TASK_DONE, complete, lease_next\n"
        "a, b = store.lease_activities(HUB, 'doomed', 600, max_items=2)\n"
        "assert complete(store, a, ev(TASK_DONE, TaskScheduledId=a.task_id, Result='\"a\"'))\n"
        "assert lease_next(store, HUB, 'doomed', 600) is not None\n"
        "print('leased', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "leased", proc.communicate(timeout=60)[1]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert lease_next(store, HUB, "survivor", 30) is None  # the dead process's leases still hold
    # The child leased on the real clock, some seconds after this test's clock was set (a loaded machine starts a
    # Python process slowly): move past its 600 s leases measured from now, not from the start.
    parent_clock.now = time.time() + 601
    [rerun] = store.lease_activities(HUB, "survivor", 30, max_items=5)
    assert (rerun.task_id, rerun.dequeue_count) == (1, 2)
    resumed = lease(store, "survivor")
    assert [m.event["Result"] for m in resumed.messages] == ['"a"']
    assert store.commit_episode(resumed, episode(resumed))
    assert complete(store, rerun, ev(TASK_DONE, TaskScheduledId=1, Result='"b"'))
    last = lease(store, "survivor")
    assert store.commit_episode(last, episode(last, status=COMPLETED))
    results = [e["Result"] for e in store.get_history(HUB, "victim") if e["EventType"] == TASK_DONE]
    assert results == ['"a"', '"b"']


# -- the wake-up hook ----------------------------------------------------------------------------------------------


def test_a_write_that_adds_work_calls_the_wake_up_hook(backend: Backend) -> None:
    store = backend.open()
    writer = backend.open() if backend.persistent else store  # another connection where there can be one
    woke = threading.Event()
    stop = store.on_change(woke.set)
    try:
        start(writer, "wake-me")
        assert woke.wait(60), "the hook was not called after another writer's commit"
    finally:
        stop()


def test_another_process_write_calls_the_wake_up_hook(backend: Backend) -> None:
    needs_files(backend)
    store = backend.open()
    woke = threading.Event()
    stop = store.on_change(woke.set)
    try:
        child = backend.child_setup() + (
            "from tests.contract.test_durable_store import HUB, orchestration\n"
            "store.create_instance(HUB, orchestration('from-afar'))\n"
            "store.close()\n"
        )
        subprocess.run([sys.executable, "-c", child], check=True, capture_output=True, timeout=120)
        assert woke.wait(60), "the hook was not called after another process's commit"
    finally:
        stop()
    assert store.get_instance(HUB, "from-afar") is not None


def test_a_stopped_hook_is_not_called_again(backend: Backend) -> None:
    store = backend.open()
    writer = backend.open() if backend.persistent else store
    calls: list[int] = []
    stop = store.on_change(lambda: calls.append(1))
    stop()  # returns once no further call can happen (SQLite: its thread has ended)
    start(writer, "unwatched")
    assert calls == []


# -- SQLite specifics --------------------------------------------------------------------------------------------


def test_open_durable_store_shares_the_data_folder_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_durable_store(data_dir)
    queues = open_queue_store(data_dir)
    try:
        start(store, "i")
        queues.enqueue("orders", b"x")
        assert store.get_instance(HUB, "i") is not None
        assert queues.list_queues() == {"orders": 1}
    finally:
        store.close()
        queues.close()
    assert (data_dir / "overcast.db").is_file()


def test_sqlite_lease_walks_the_inbox_index_without_sorting(tmp_path: Path) -> None:
    from overcast.durable.store.backends.sqlite.base import CLAIMABLE

    store = SqliteDurableStore(tmp_path / "o.db")
    try:
        with store._connection("explain") as conn:
            plan = " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + CLAIMABLE, (HUB, 0, 0.0, 0.0)))
    finally:
        store.close()
    assert "durable_inbox_ready" in plan
    assert "TEMP B-TREE" not in plan


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteDurableStore(bad)
    assert str(bad) in str(caught.value) and "durable store" in str(caught.value)


def test_events_round_trip_as_json(store: DurableStore) -> None:
    start(store, "j")
    tricky = ev(RAISED, Name="ünïcode ☃", Input=json.dumps({"nested": ["\u0000", 1.5, None, True]}), Extra=[{}])
    leased = lease(store)
    assert store.commit_episode(leased, episode(leased, tricky))
    assert store.get_history(HUB, "j")[-1] == tricky


def test_leasing_several_orchestrations_at_once(store: DurableStore, clock: FakeClock) -> None:
    for name in ("a", "b", "c", "d"):
        start(store, name)
        clock.advance(1)
    held = lease(store, owner="other")  # "a": already leased, so the batch skips it
    assert held.instance_id == "a"
    batch = store.lease_orchestrations(HUB, "w1", 30, max_instances=2)
    assert [leased.instance_id for leased in batch] == ["b", "c"]
    assert len({leased.token for leased in batch}) == 2
    for leased in batch:
        assert leased.instance is not None and leased.instance.instance_id == leased.instance_id
        assert types(leased.history) == [] and len(leased.messages) == 1
        assert store.commit_episode(leased, episode(leased))
    [last] = store.lease_orchestrations(HUB, "w1", 30, max_instances=10)
    assert last.instance_id == "d"
    assert store.lease_orchestrations(HUB, "w1", 30, max_instances=10) == []


def test_threads_leasing_batches_at_once_never_share_an_instance(backend: Backend) -> None:
    stores = [backend.open() for _ in range(3)] if backend.persistent else [backend.open()]
    for n in range(60):
        start(stores[0], f"i{n:03d}")
    results = race_threads(3, lambda i: [
        leased.instance_id
        for _ in range(30)
        for leased in stores[i % len(stores)].lease_orchestrations(HUB, f"w{i}", 60, max_instances=4)
    ])
    got = [instance for ids in results for instance in ids]
    assert sorted(got) == [f"i{n:03d}" for n in range(60)]


def test_completing_several_activities_at_once(store: DurableStore, clock: FakeClock) -> None:
    start(store, "i1")
    leased = lease(store)
    activities = [ActivityRequest("a", 0, '"0"'), ActivityRequest("b", 1, '"1"'), ActivityRequest("c", 2, '"2"')]
    assert store.commit_episode(leased, episode(leased, ev(SCHEDULED, 0), ev(SCHEDULED, 1), ev(SCHEDULED, 2),
                                                activities=activities))
    items = store.lease_activities(HUB, "w1", 30, max_items=3)
    assert len(items) == 3
    clock.advance(31)
    [again] = store.lease_activities(HUB, "w2", 30, max_items=1)  # "a" expired and was taken over
    answers = store.complete_activities([(item, ev(5, TaskScheduledId=item.task_id, Result="1")) for item in items])
    assert answers == [False, True, True]
    assert store.complete_activities([]) == []
    next_lease = lease(store)
    assert sorted(m.event["TaskScheduledId"] for m in next_lease.messages) == [1, 2]
    assert again.name == "a"
