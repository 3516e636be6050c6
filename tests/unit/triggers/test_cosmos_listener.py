"""The change feed listener in process, on the in-memory documents store: batches, checkpoints after failures,
wake-ups from writes of this instance."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.memory.documents import MemoryDocumentStore
from overcast.bindings.cosmos_kind import wake_name
from overcast.invoke.model import Invocation, Result
from overcast.triggers.cosmos import ChangeFeedListener, FeedRelay, lease_options
from overcast.triggers.cosmos_leases import LeaseManager
from overcast.triggers.wakeup import Wakeups

TRIGGER = BindingSpec("docs", "cosmosDBTrigger", "in", None, {
    "databaseName": "db", "containerName": "items", "createLeaseContainerIfNotExists": True,
})


def spec() -> FunctionSpec:
    return FunctionSpec(name="feed", func=lambda docs: None, bindings=(TRIGGER,), directory=".", script_file="x")


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    async def __call__(self, invocation: Invocation) -> Result:
        self.batches.append([d["id"] for d in json.loads(invocation.trigger.value)])
        return Result(invocation_id=invocation.invocation_id, succeeded=not self.fail)


async def io(fn: Any, *args: Any) -> Any:
    return fn(*args)


def listener(store: MemoryDocumentStore, recorder: Recorder, tmp_path: Path, *, poll: float,
             max_items: int | None = None) -> ChangeFeedListener:
    return ChangeFeedListener(spec(), store, LeaseManager(store, lease_options(TRIGGER), "me"), folder=tmp_path,
                              invoke=recorder, io=io, retry=None, poll_delay=poll, acquire_interval=0.05,
                              max_items=max_items)


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_batches_of_at_most_max_items_each_change_once(tmp_path: Path) -> None:
    async def main() -> list[list[str]]:
        store = MemoryDocumentStore()
        store.create_container("db", "items", "/pk", feed_ranges=1)
        recorder = Recorder()
        running = listener(store, recorder, tmp_path, poll=0.02, max_items=3)
        task = asyncio.create_task(running.run())
        await until(lambda: running.held)
        for n in range(7):
            store.write("db", "items", {"id": f"i{n}", "pk": "p"})
        await until(lambda: sum(map(len, recorder.batches)) == 7)
        await asyncio.sleep(0.1)
        running.stop()
        await task
        return recorder.batches

    batches = asyncio.run(main())
    assert [i for batch in batches for i in batch] == [f"i{n}" for n in range(7)]
    assert all(len(batch) <= 3 for batch in batches)


def test_a_failed_invocation_is_checkpointed_all_the_same(tmp_path: Path) -> None:
    async def main() -> tuple[list[list[str]], list[int]]:
        store = MemoryDocumentStore()
        store.create_container("db", "items", "/pk", feed_ranges=2)
        recorder = Recorder(fail=True)
        running = listener(store, recorder, tmp_path, poll=0.02)
        task = asyncio.create_task(running.run())
        await until(lambda: len(running.held) == 2)
        store.write("db", "items", {"id": "x", "pk": "p"})
        await until(lambda: recorder.batches)
        await asyncio.sleep(0.1)
        running.stop()
        await task
        positions = [lease.continuation for lease in running._manager.leases()]
        return recorder.batches, positions

    batches, positions = asyncio.run(main())
    assert batches == [["x"]]
    assert sorted(positions) == [0, 1]  # the range with the write moved past it; the leases are released


def test_a_write_of_this_instance_wakes_the_listener_at_once(tmp_path: Path) -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        store = MemoryDocumentStore()
        store.create_container("db", "items", "/pk", feed_ranges=1)
        wakeups = Wakeups()
        wakeups.bind(loop)
        recorder = Recorder()
        running = listener(store, recorder, tmp_path, poll=60.0)
        relay = FeedRelay(wakeups, wake_name("db", "items"))
        relay.listeners.append(running)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(running.run())]
        await until(lambda: running.held)
        await asyncio.sleep(0.1)  # the listener now waits for its 60 s poll
        started = loop.time()
        store.write("db", "items", {"id": "w", "pk": "p"})
        wakeups.wake(wake_name("db", "items"))
        await until(lambda: recorder.batches)
        took = loop.time() - started
        running.stop()
        relay.stop()
        await asyncio.gather(*tasks)
        return took

    assert asyncio.run(main()) < 30.0  # woken by the write, not by the 60 s poll
