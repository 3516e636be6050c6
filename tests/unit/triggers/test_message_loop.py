"""The message loop in process, on the memory queue store with a fake clock: delivery, renewal, batching, failure,
poison, a crash; and a second source (Service Bus-like) whose dead-letter policy the loop applies unchanged.

The function the loop invokes is the test's own coroutine (the loop's seam is ``invoke``); the store, the source
adapter, the handler and the loop are the product's. Waits are bounded by loop turns, never by time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.memory import MemoryQueueStore
from overcast.invoke.model import Invocation, Result
from overcast.triggers.loop import MessageLoop, Prepared
from overcast.triggers.messages import Delivery, LoopPolicy
from overcast.triggers.queue import QueueMessages
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.storage_queue import StorageQueueSource, poison_queue_name, queue_policy
from overcast.triggers.wakeup import Wakeups

LEASE = 60.0
QUEUE = "work"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """The store pool, run inline: the memory store never blocks."""
    return fn(*args)


async def turns(condition: Callable[[], bool], limit: int = 2000) -> None:
    """Let the loop run until ``condition`` holds (bounded by loop turns, not by time)."""
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


@dataclass
class Function:
    """The queue-triggered function: succeeds or fails, or waits until released."""

    fail: bool = False
    gate: asyncio.Event | None = None
    calls: list[bytes] = field(default_factory=list)
    running: int = 0
    most_running: int = 0

    async def __call__(self, invocation: Invocation) -> Result:
        self.calls.append(invocation.trigger.value.encode() if isinstance(invocation.trigger.value, str)
                          else bytes(invocation.trigger.value))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
        finally:
            self.running -= 1
        return Result(invocation_id=invocation.invocation_id, succeeded=not self.fail)


class Rig:
    def __init__(self, function: Function, options: QueueOptions,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.clock = Clock()
        self.store = MemoryQueueStore(self.clock)
        self.function = function
        self.wakeups = Wakeups()
        spec = FunctionSpec(name="onwork", func=lambda: None, directory="", script_file="",
                            bindings=(BindingSpec("msg", "queueTrigger", "in", None, {"queueName": QUEUE}),))
        source = StorageQueueSource(QUEUE, self.store, inline, options.message_encoding, options.lease,
                                    poison_queue_name(QUEUE), self.wakeups)
        self.loop = MessageLoop(source, QueueMessages(spec, QUEUE, None), function, queue_policy(options),
                                self.wakeups, sleep=sleep)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.wakeups.bind(asyncio.get_running_loop())
        self.task = asyncio.get_running_loop().create_task(self.loop.run())

    async def stop(self) -> None:
        self.loop.stop()
        assert self.task is not None
        await self.task
        await self.loop.drain()

    def visible(self, queue: str = QUEUE) -> list[bytes]:
        return [m.body for m in self.store.peek(queue, 32)]

    def count(self, queue: str = QUEUE) -> int:
        return len(self.store.peek(queue, 32))


def options(**changes: Any) -> QueueOptions:
    base = {"batch_size": 16, "new_batch_threshold": 8, "max_polling_interval": 0.1, "visibility_timeout": 0.0,
            "max_dequeue_count": 3, "message_encoding": "none", "lease": LEASE}
    return QueueOptions(**{**base, **changes})


def test_a_message_is_deleted_once_its_function_succeeds() -> None:
    async def scenario() -> None:
        rig = Rig(Function(), options())
        for n in range(5):
            rig.store.enqueue(QUEUE, f"m{n}".encode())
        rig.start()
        await turns(lambda: len(rig.function.calls) == 5 and rig.loop.in_flight == 0)
        await rig.stop()
        assert sorted(rig.function.calls) == [b"m0", b"m1", b"m2", b"m3", b"m4"]
        rig.clock.now += 10 * LEASE  # nothing is merely invisible: every message is gone
        assert rig.store.receive(QUEUE, 32, LEASE) == []

    asyncio.run(scenario())


def test_a_failing_message_is_retried_then_poisoned_after_max_dequeue_count() -> None:
    async def scenario() -> None:
        rig = Rig(Function(fail=True), options(max_dequeue_count=3))
        rig.store.enqueue(QUEUE, b"bad")
        rig.start()
        await turns(lambda: rig.count("work-poison") == 1)
        await rig.stop()
        assert rig.function.calls == [b"bad", b"bad", b"bad"]  # at least once, and exactly maxDequeueCount times
        assert rig.count() == 0

    asyncio.run(scenario())


def test_a_message_received_past_the_limit_is_poisoned_without_running() -> None:
    async def scenario() -> None:
        rig = Rig(Function(), options(max_dequeue_count=2))
        rig.store.enqueue(QUEUE, b"crashed twice")
        for _ in range(2):  # two instances took it and died
            rig.store.receive(QUEUE, 1, LEASE)
            rig.clock.now += LEASE + 1
        rig.start()
        await turns(lambda: rig.count("work-poison") == 1)
        await rig.stop()
        assert rig.function.calls == []

    asyncio.run(scenario())


def test_a_failed_message_comes_back_after_the_visibility_timeout() -> None:
    async def scenario() -> None:
        rig = Rig(Function(fail=True), options(visibility_timeout=30.0, max_dequeue_count=5))
        rig.store.enqueue(QUEUE, b"later")
        rig.start()
        await turns(lambda: len(rig.function.calls) == 1 and rig.loop.in_flight == 0)
        await rig.stop()
        assert rig.store.receive(QUEUE, 1, LEASE) == []  # settled as failed: invisible for visibilityTimeout
        rig.clock.now += 31
        [again] = rig.store.receive(QUEUE, 1, LEASE)
        assert again.body == b"later" and again.dequeue_count == 2

    asyncio.run(scenario())


def test_the_lease_is_renewed_while_the_function_runs() -> None:
    async def scenario() -> None:
        rig: Rig

        async def fake_sleep(seconds: float) -> None:
            rig.clock.now += seconds  # a renewal period passes on the fake clock
            await asyncio.sleep(0)

        gate = asyncio.Event()
        rig = Rig(Function(gate=gate), options(), sleep=fake_sleep)
        rig.store.enqueue(QUEUE, b"long")
        started = rig.clock.now
        rig.start()
        await turns(lambda: rig.clock.now > started + 3 * LEASE)  # three leases later, still running...
        assert rig.store.receive(QUEUE, 1, LEASE) == []  # ...and never visible to another consumer
        gate.set()
        await turns(lambda: rig.loop.in_flight == 0)
        await rig.stop()
        rig.clock.now += 10 * LEASE
        assert rig.store.receive(QUEUE, 1, LEASE) == []  # deleted with the renewed receipt
        assert rig.function.calls == [b"long"]

    asyncio.run(scenario())


@pytest.mark.parametrize(("batch", "threshold"), [(4, 1), (2, 0), (3, 3), (2, 5)])
def test_in_flight_work_stays_within_batch_size_plus_new_batch_threshold(batch: int, threshold: int) -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        rig = Rig(Function(gate=gate), options(batch_size=batch, new_batch_threshold=threshold))
        for n in range(20):
            rig.store.enqueue(QUEUE, f"m{n}".encode())
        rig.start()
        # With nothing finishing, the loop takes whole batches while in-flight work is at most the threshold.
        plateau = (threshold // batch + 1) * batch
        await turns(lambda: rig.function.running == plateau)
        for _ in range(50):
            await asyncio.sleep(0)  # every chance to take more: it does not
        assert rig.function.running == plateau <= batch + threshold
        assert rig.count() == 20 - plateau
        gate.set()
        await turns(lambda: len(rig.function.calls) == 20 and rig.loop.in_flight == 0)
        await rig.stop()
        assert rig.function.most_running <= batch + threshold

    asyncio.run(scenario())


def test_a_crashed_listener_leaves_its_message_to_come_back_after_the_lease() -> None:
    async def scenario() -> None:
        rig = Rig(Function(gate=asyncio.Event()), options())
        rig.store.enqueue(QUEUE, b"in flight")
        rig.start()
        await turns(lambda: rig.function.running == 1)
        assert rig.task is not None
        rig.task.cancel()  # the instance dies: its loop and its invocation stop where they are
        for task in list(rig.loop._inflight):
            task.cancel()
        await asyncio.gather(rig.task, *rig.loop._inflight, return_exceptions=True)
        assert rig.store.receive(QUEUE, 1, LEASE) == []  # still leased to the dead instance
        rig.clock.now += LEASE + 1
        [back] = rig.store.receive(QUEUE, 1, LEASE)
        assert back.body == b"in flight" and back.dequeue_count == 2

    asyncio.run(scenario())


class BrokerSource:
    """A Service Bus-like source: peek-lock with a broker-kept delivery count, dead-letter with a reason.
    Written only against the protocol, to show another technology fits the loop unchanged."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.ready = [Delivery(f"id{n}", body, 0, None, None) for n, body in enumerate(bodies)]
        self.locked: dict[str, Delivery] = {}
        self.completed: list[str] = []
        self.dead: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        return "orders"

    async def receive(self, max_messages: int) -> list[Delivery]:
        taken, self.ready = self.ready[:max_messages], self.ready[max_messages:]
        for delivery in taken:
            delivery.delivery_count += 1
            delivery.lock = f"lock-{delivery.id}-{delivery.delivery_count}"
            self.locked[delivery.id] = delivery
        return taken

    async def complete(self, deliveries: Sequence[Delivery]) -> list[bool]:
        done = []
        for delivery in deliveries:
            done.append(self.locked.pop(delivery.id, None) is not None)
            self.completed.append(delivery.id)
        return done

    async def abandon(self, delivery: Delivery, delay: float) -> None:
        self.ready.append(self.locked.pop(delivery.id))

    async def dead_letter(self, delivery: Delivery, reason: str) -> bool:
        self.locked.pop(delivery.id)
        self.dead.append((delivery.id, reason))
        return True

    async def renew(self, delivery: Delivery) -> bool:
        return delivery.id in self.locked


def test_a_broker_source_dead_letters_at_its_max_delivery_count_through_the_same_loop() -> None:
    async def scenario() -> None:
        source = BrokerSource([b"ok", b"poison"])
        calls: list[bytes] = []

        async def handler(delivery: Delivery) -> Prepared:
            spec = FunctionSpec(name="f", func=lambda: None, bindings=(), directory="", script_file="")
            return Invocation(function=spec, trigger=delivery.body, reason="New message."), None

        async def invoke(invocation: Invocation) -> Result:
            calls.append(invocation.trigger)
            return Result(invocation_id=invocation.invocation_id, succeeded=invocation.trigger == b"ok")

        wakeups = Wakeups()
        wakeups.bind(asyncio.get_running_loop())
        policy = LoopPolicy(max_deliveries=4, limit_name="MaxDeliveryCount", retry_delay=0.0, renew_every=None,
                            max_polling_interval=0.1)
        loop = MessageLoop(source, handler, invoke, policy, wakeups)
        task = asyncio.get_running_loop().create_task(loop.run())
        await turns(lambda: bool(source.dead))
        loop.stop()
        await task
        await loop.drain()
        assert source.completed == ["id0"]
        assert source.dead == [("id1", "Message has reached MaxDeliveryCount of 4.")]
        assert calls.count(b"poison") == 4

    asyncio.run(scenario())
