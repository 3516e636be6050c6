"""The Service Bus source under the one message loop, in process on the memory store with a fake clock: settle on
success, abandon to dead-letter on failure, lock renewal capped by maxAutoLockRenewalDuration, batches, sessions.

The function the loop invokes is the test's own coroutine; the store, source, handler, loop and session listener
are the product's. Waits are bounded by loop turns, never by time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.memory.servicebus import MemoryServiceBusStore
from overcast.backends.servicebus_store import MAX_DELIVERY_REASON, QUEUE, Entity, EntityProperties, OutgoingMessage
from overcast.invoke.model import Invocation, Result
from overcast.triggers.loop import MessageLoop
from overcast.triggers.messages import LoopPolicy
from overcast.triggers.servicebus import ServiceBusMessages, ServiceBusSource
from overcast.triggers.servicebus_options import ServiceBusOptions
from overcast.triggers.servicebus_sessions import SessionListener
from overcast.triggers.wakeup import Wakeups


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def turns(condition: Callable[[], bool], limit: int = 3000) -> None:
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


def spec(binding: dict[str, Any]) -> FunctionSpec:
    trigger = BindingSpec("msg", "serviceBusTrigger", "in", None, binding)
    return FunctionSpec(name="f", func=lambda msg: None, directory="", script_file="", bindings=(trigger,))


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[Any] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, invocation: Invocation) -> Result:
        self.seen.append(invocation)
        if self.gate is not None:
            await self.gate.wait()
        return Result(invocation.invocation_id, succeeded=not self.fail)


def loop_for(store: MemoryServiceBusStore, function: Recorder, path: str = "q", many: bool = False,
             options: ServiceBusOptions | None = None, clock: Callable[[], float] | None = None) -> MessageLoop:
    options = options or ServiceBusOptions(max_polling_interval=0.01)
    source = ServiceBusSource(path, store, inline, options, many, True, clock or (lambda: 0.0))
    handler = ServiceBusMessages(spec({"queueName": path}), path, None, many)
    policy = LoopPolicy(batch_size=4, new_batch_threshold=2, max_polling_interval=0.01, max_deliveries=None,
                        retry_delay=0.0, renew_every=None)
    return MessageLoop(source, handler, function, policy, Wakeups())


async def run_until(loop: MessageLoop, condition: Callable[[], bool]) -> None:
    task = asyncio.get_running_loop().create_task(loop.run())
    try:
        await turns(condition)
    finally:
        loop.stop()
        await loop.drain()
        task.cancel()


def test_success_completes_and_failure_dead_letters_at_the_entitys_max() -> None:
    async def scenario() -> None:
        store = MemoryServiceBusStore(Clock())
        store.declare([Entity("q", QUEUE, EntityProperties(max_delivery_count=2))])
        store.send("q", [OutgoingMessage(b"ok")])
        await run_until(loop_for(store, Recorder()), lambda: store.entities()[0].active == 0)
        store.send("q", [OutgoingMessage(b"bad")])
        failing = Recorder(fail=True)
        await run_until(loop_for(store, failing), lambda: store.entities()[0].dead_letter == 1)
        assert [i.trigger_metadata["DeliveryCount"].value for i in failing.seen] == ["1", "2"]
        assert store.peek("q/$deadletterqueue", 1)[0].dead_letter_reason == MAX_DELIVERY_REASON
    asyncio.run(scenario())


def test_renewal_stops_at_max_auto_lock_renewal_duration() -> None:
    async def scenario() -> None:
        store = MemoryServiceBusStore(Clock())
        store.send("q", [OutgoingMessage(b"long")])
        elapsed = [0.0]
        options = ServiceBusOptions(max_auto_lock_renewal=30.0)
        source = ServiceBusSource("q", store, inline, options, False, True, lambda: elapsed[0])
        (delivery,) = await source.receive(1)
        assert await source.renew(delivery) is True
        elapsed[0] = 31.0
        assert await source.renew(delivery) is False
    asyncio.run(scenario())


def test_many_runs_one_invocation_per_batch() -> None:
    async def scenario() -> None:
        store = MemoryServiceBusStore(Clock())
        store.send("q", [OutgoingMessage(f"m{i}".encode()) for i in range(5)])
        function = Recorder()
        await run_until(loop_for(store, function, many=True), lambda: store.entities()[0].active == 0)
        assert len(function.seen) == 1 and function.seen[0].trigger.type == "collection_string"
        assert function.seen[0].trigger.value.string == [f"m{i}" for i in range(5)]
    asyncio.run(scenario())


def test_a_session_runs_its_messages_one_at_a_time_in_order() -> None:
    async def scenario() -> None:
        store = MemoryServiceBusStore(Clock())
        store.declare([Entity("s", QUEUE, EntityProperties(requires_session=True))])
        store.send("s", [OutgoingMessage(f"{s}{i}".encode(), session_id=s) for i in range(3) for s in "ab"])
        function = Recorder()
        options = ServiceBusOptions(max_concurrent_sessions=2, session_idle_timeout=0.05, max_polling_interval=0.01)
        handler = ServiceBusMessages(spec({"queueName": "s"}), "s", None, False)
        listener = SessionListener("s", store, inline, handler, function, options, Wakeups(), 60.0, False, True)
        task = asyncio.get_running_loop().create_task(listener.run())
        await turns(lambda: len(function.seen) == 6 and store.entities()[0].active == 0)
        listener.stop()
        await listener.drain()
        task.cancel()
        bodies = [i.trigger.value for i in function.seen]
        assert [b for b in bodies if b.startswith("a")] == ["a0", "a1", "a2"]
        assert [b for b in bodies if b.startswith("b")] == ["b0", "b1", "b2"]
    asyncio.run(scenario())


def test_without_auto_complete_a_message_stays_locked_until_its_lock_runs_out() -> None:
    async def scenario() -> None:
        clock = Clock()
        store = MemoryServiceBusStore(clock)
        store.send("q", [OutgoingMessage(b"kept")])
        source = ServiceBusSource("q", store, inline, ServiceBusOptions(), False, False)
        (delivery,) = await source.receive(1)
        assert await source.complete([delivery]) == [True]  # the function would settle it; Python cannot
        assert store.receive("q", 1) == []  # still locked
        clock.now += 61
        (again,) = store.receive("q", 1)
        assert again.body == b"kept" and again.delivery_count == 2
    asyncio.run(scenario())
