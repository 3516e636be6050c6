"""The Event Hubs processor and its partition pumps, in process on the in-memory store with a hand-moved clock.

The function is a recording coroutine (the dispatcher's ``invoke``); ownership expiry follows the store's clock, so
an instance "killed" here is one whose tasks stop without releasing anything, and whose records run out when the
test moves the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from overcast.app.spec import BindingSpec, FunctionSpec, RetrySpec
from overcast.backends.eventhubs_store import EventData
from overcast.backends.memory.eventhubs import MemoryEventHubsStore
from overcast.bindings.eventhub_hubs import HubDirectory
from overcast.config.eventhubs_config import HubsConfig
from overcast.invoke.model import Invocation, Result
from overcast.triggers.eventhubs import EventHubProcessor, fair_share, should_steal
from overcast.triggers.eventhubs_options import EventHubOptions
from overcast.triggers.eventhubs_pump import PumpTarget
from overcast.triggers.wakeup import Wakeups

HUB = "orders"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """The function: records each call's (instance, partition, sequence numbers); fails when told to."""

    def __init__(self, fail: Callable[[list[int]], bool] = lambda seqs: False) -> None:
        self.calls: list[tuple[str, str, list[int]]] = []
        self.fail = fail

    def invoke_for(self, instance: str) -> Callable[[Invocation], Any]:
        async def invoke(invocation: Invocation) -> Result:
            meta = invocation.trigger_metadata
            if "SequenceNumberArray" in meta:
                seqs = list(meta["SequenceNumberArray"].value.sint64)
            else:
                seqs = [int(meta["SequenceNumber"].value)]
            partition = meta["PartitionContext"].python_value["PartitionId"]
            self.calls.append((instance, partition, seqs))
            await asyncio.sleep(0)
            return Result(invocation.invocation_id, succeeded=not self.fail(seqs))
        return invoke

    def seqs(self, partition: str) -> list[int]:
        return [s for _, p, seqs in self.calls if p == partition for s in seqs]


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def spec(many: bool = False) -> FunctionSpec:
    raw = {"eventHubName": HUB, "cardinality": "many" if many else "one"}
    return FunctionSpec(name="onevent", func=lambda: None, directory="", script_file="",
                        bindings=(BindingSpec("event", "eventHubTrigger", "in", None, raw),))


def processor(store: MemoryEventHubsStore, recorder: Recorder, owner: str, options: EventHubOptions,
              many: bool = False, retry: RetrySpec | None = None, group: str = "$Default") -> EventHubProcessor:
    target = PumpTarget(spec(many), HUB, group, "localhost", owner, many, False, retry)
    directory = HubDirectory(store, HubsConfig("", {}, ""))
    return EventHubProcessor(target, directory, recorder.invoke_for(owner), options, Wakeups(), direct)


async def settle(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def started(proc: EventHubProcessor) -> None:
    proc._info = await direct(proc._directory.ensure, HUB, proc.target.group)


@pytest.mark.parametrize(("partitions", "owners", "mine", "others", "want"), [
    (4, 1, 0, [], 4),
    (4, 2, 0, [4], 2),
    (4, 2, 2, [2], 2),
    (5, 2, 0, [2], 3),  # nobody holds the extra one yet
    (5, 2, 0, [5], 2),  # the other holds it (and more: it loses them to steals)
    (5, 2, 2, [3], 2),  # the other already holds it
    (5, 2, 3, [2], 3),  # keep the extra one
    (3, 4, 0, [1, 1, 1], 0),
    (32, 3, 0, [32, 0], 11),
])
def test_fair_share(partitions: int, owners: int, mine: int, others: list[int], want: int) -> None:
    assert fair_share(partitions, owners, mine, others) == want


@pytest.mark.parametrize(("mine", "want", "base", "victim", "steal"), [
    (0, 2, 2, 4, True), (1, 2, 2, 3, True), (1, 2, 2, 2, False), (2, 2, 2, 2, False), (2, 3, 2, 3, False),
    (1, 3, 2, 3, True),
])
def test_should_steal(mine: int, want: int, base: int, victim: int, steal: bool) -> None:
    assert should_steal(mine, want, base, victim) is steal


def test_events_of_each_partition_run_in_order_one_call_each_and_are_checkpointed() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 2)
        recorder = Recorder(fail=lambda seqs: seqs == [2])
        proc = processor(store, recorder, "a", EventHubOptions(max_event_batch_size=3))
        for n in range(7):
            store.send(HUB, [EventData(str(n).encode())], partition_id=str(n % 2))
        await started(proc)
        await proc.balance()
        assert proc.owned == ["0", "1"]
        await settle(lambda: len(recorder.calls) == 7)
        assert recorder.seqs("0") == [0, 1, 2, 3] and recorder.seqs("1") == [0, 1, 2]
        # The failed event (sequence 2 of each partition) is checkpointed past all the same.
        await settle(lambda: {p: c.sequence_number for p, c in store.checkpoints(HUB, "$Default").items()}
                     == {"0": 3, "1": 2})
        proc.stop()
        await proc.run()  # after stop: drains and releases
        assert store.ownership(HUB, "$Default") == []

    asyncio.run(scenario())


def test_many_delivers_batches_of_at_most_max_event_batch_size() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 1)
        store.send(HUB, [EventData(b"x") for _ in range(25)])
        recorder = Recorder()
        proc = processor(store, recorder, "a", EventHubOptions(max_event_batch_size=10), many=True)
        await started(proc)
        await proc.balance()
        await settle(lambda: sum(len(c[2]) for c in recorder.calls) == 25)
        assert [c[2] for c in recorder.calls] == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
        proc.stop()
        await proc.drain()

    asyncio.run(scenario())


def test_a_short_batch_waits_up_to_max_wait_time_for_min_event_batch_size() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 1)
        recorder = Recorder()
        options = EventHubOptions(max_event_batch_size=10, min_event_batch_size=4, max_wait_time=0.4)
        proc = processor(store, recorder, "a", options, many=True)
        await started(proc)
        await proc.balance()
        store.send(HUB, [EventData(b"x") for _ in range(2)])
        await asyncio.sleep(0.2)
        assert recorder.calls == []  # waiting for two more
        store.send(HUB, [EventData(b"x") for _ in range(2)])
        await settle(lambda: len(recorder.calls) == 1, timeout=1.0)
        assert recorder.calls[0][2] == [0, 1, 2, 3]
        store.send(HUB, [EventData(b"x")])
        started_at = asyncio.get_running_loop().time()
        await settle(lambda: len(recorder.calls) == 2, timeout=2.0)
        assert asyncio.get_running_loop().time() - started_at >= 0.3  # a partial batch after maxWaitTime
        proc.stop()
        await proc.drain()

    asyncio.run(scenario())


def test_min_event_batch_size_does_not_hold_back_single_events() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 1)
        recorder = Recorder()
        options = EventHubOptions(min_event_batch_size=10, max_wait_time=60.0)
        proc = processor(store, recorder, "a", options, many=False)
        await started(proc)
        await proc.balance()
        store.send(HUB, [EventData(b"x")])
        await settle(lambda: len(recorder.calls) == 1, timeout=2.0)
        proc.stop()
        await proc.drain()

    asyncio.run(scenario())


def test_batch_checkpoint_frequency_and_a_graceful_stop() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 1)
        recorder = Recorder()
        proc = processor(store, recorder, "a", EventHubOptions(max_event_batch_size=1, batch_checkpoint_frequency=3))
        await started(proc)
        await proc.balance()
        store.send(HUB, [EventData(b"x") for _ in range(4)])
        await settle(lambda: len(recorder.calls) == 4)
        await settle(lambda: "0" in store.checkpoints(HUB, "$Default"))
        assert store.checkpoints(HUB, "$Default")["0"].sequence_number == 2  # after the third batch, not the fourth
        proc.stop()
        await proc.drain()
        assert store.checkpoints(HUB, "$Default")["0"].sequence_number == 3  # the stop keeps the fourth

    asyncio.run(scenario())


def test_a_retry_policy_retries_before_the_checkpoint() -> None:
    async def scenario() -> None:
        store = MemoryEventHubsStore(Clock())
        store.ensure_hub(HUB, 1)
        attempts: list[int] = []
        recorder = Recorder(fail=lambda seqs: attempts.append(1) is None and len(attempts) < 3)
        retry = RetrySpec(strategy="fixed_delay", max_retry_count=2, delay_interval=0.0)
        proc = processor(store, recorder, "a", EventHubOptions(), retry=retry)
        await started(proc)
        await proc.balance()
        store.send(HUB, [EventData(b"x")])
        await settle(lambda: "0" in store.checkpoints(HUB, "$Default"))
        assert len(recorder.calls) == 3 and recorder.seqs("0") == [0, 0, 0]
        proc.stop()
        await proc.drain()

    asyncio.run(scenario())


def test_a_second_instance_takes_its_share_and_a_dead_ones_partitions_return() -> None:
    async def scenario() -> None:
        clock = Clock()
        store = MemoryEventHubsStore(clock)
        store.ensure_hub(HUB, 4)
        recorder = Recorder()
        options = EventHubOptions(max_event_batch_size=5)
        a = processor(store, recorder, "a", options)
        b = processor(store, recorder, "b", options)
        await started(a)
        await started(b)
        await a.balance()
        assert a.owned == ["0", "1", "2", "3"]
        for _ in range(3):  # b steals one partition per round; a notices at its next round
            await b.balance()
            await a.balance()
        assert len(a.owned) == 2 and len(b.owned) == 2 and set(a.owned) | set(b.owned) == {"0", "1", "2", "3"}
        for n in range(40):
            store.send(HUB, [EventData(b"x")], partition_id=str(n % 4))
        await settle(lambda: len(recorder.calls) == 40)
        for partition in "0123":
            assert recorder.seqs(partition) == list(range(10))
            owners = {i for i, p, _ in recorder.calls if p == partition}
            assert owners == ({"a"} if partition in a.owned else {"b"})
        await settle(lambda: {c.sequence_number for c in store.checkpoints(HUB, "$Default").values()} == {9}
                     and len(store.checkpoints(HUB, "$Default")) == 4)
        # a dies: its tasks stop, nothing is released; its records run out.
        for _pump, task in a._pumps.values():
            task.cancel()
        a._pumps.clear()
        clock.now += options.ownership_expiration + 1
        await b.balance()  # renews its own, then claims every expired partition it needs
        assert b.owned == ["0", "1", "2", "3"]
        for n in range(8):
            store.send(HUB, [EventData(b"y")], partition_id=str(n % 4))
        await settle(lambda: len(recorder.calls) == 48)
        for partition in "0123":
            assert recorder.seqs(partition) == list(range(12))  # nothing skipped past the checkpoint, no repeats
        b.stop()
        await b.drain()

    asyncio.run(scenario())


def test_initial_offsets_apply_only_without_a_checkpoint() -> None:
    async def scenario() -> None:
        clock = Clock()
        store = MemoryEventHubsStore(clock)
        store.ensure_hub(HUB, 2)
        store.send(HUB, [EventData(b"old")], partition_id="0")
        store.send(HUB, [EventData(b"old")], partition_id="1")
        clock.now += 10
        store.send(HUB, [EventData(b"new")], partition_id="1")
        store.set_checkpoint(HUB, "$Default", "0", 0, "0")
        recorder = Recorder()
        from_end = processor(store, recorder, "a", EventHubOptions(initial_offset="fromEnd"))
        await started(from_end)
        await from_end.balance()
        store.send(HUB, [EventData(b"later")], partition_id="0")
        store.send(HUB, [EventData(b"later")], partition_id="1")
        await settle(lambda: len(recorder.calls) == 2)
        assert recorder.seqs("0") == [1] and recorder.seqs("1") == [2]  # 0 from its checkpoint, 1 from the end
        from_end.stop()
        await from_end.drain()
        timed = Recorder()
        by_time = processor(store, timed, "b", EventHubOptions(initial_offset="fromEnqueuedTime",
                                                               initial_enqueued_time=clock.now - 5), group="audit")
        await started(by_time)
        await by_time.balance()
        await settle(lambda: len(timed.calls) == 3)
        assert timed.seqs("0") == [1] and timed.seqs("1") == [1, 2]
        by_time.stop()
        await by_time.drain()

    asyncio.run(scenario())
