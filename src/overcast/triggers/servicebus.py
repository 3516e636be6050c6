"""The Service Bus trigger (§6.5): a :class:`MessageLoop` per function over its queue or subscription.

The broker's peek-lock semantics live in the store (:mod:`overcast.backends.servicebus_store`): this source
receives, completes after success, abandons after failure (redelivered at once; the store dead-letters at the
entity's max delivery count, with ``MaxDeliveryCountExceeded``), and renews the lock of a running message every half
lock until ``maxAutoLockRenewalDuration``. ``cardinality: many`` receives up to ``maxMessageBatchSize`` messages
(waiting up to ``maxBatchWaitTime`` for ``minMessageBatchSize``) and runs one invocation with the batch; sessions
are read by :mod:`overcast.triggers.servicebus_sessions`. A trigger on ``<entity>/$deadletterqueue`` reads the
dead-letter queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.servicebus_store import (
    BusMessage,
    ServiceBusBackend,
    split_dead_letter,
    subscription_path,
    topic_of,
)
from overcast.bindings.servicebus import batch_datum, message_datums
from overcast.invoke.model import Invocation
from overcast.triggers.loop import MIN_POLL, Prepared
from overcast.triggers.messages import Delivery
from overcast.triggers.servicebus_options import ServiceBusOptions

log = logging.getLogger("overcast.host.triggers.servicebus")
UNREADABLE = "MessageUnreadable"


def entity_path(binding: Any) -> str:
    """The path a trigger or output binding names: its queue, or its topic's subscription (or its topic)."""
    queue = str(binding.get("queueName") or "").strip()
    if queue:
        return queue.lower()
    topic = str(binding.get("topicName") or "").strip()
    subscription = str(binding.get("subscriptionName") or "").strip()
    if subscription:
        base, dead = split_dead_letter(subscription)
        return subscription_path(topic, base) + ("/$deadletterqueue" if dead else "")
    return topic.lower()


def wake_key(path: str) -> str:
    """What an output to this entity wakes: a subscription's listener wakes with its topic."""
    base, _ = split_dead_letter(path)
    return topic_of(base) or base


class ServiceBusSource:
    """One entity of the store as a :class:`~overcast.triggers.messages.MessageSource`."""

    def __init__(self, path: str, store: ServiceBusBackend, io: Callable[..., Awaitable[Any]],
                 options: ServiceBusOptions, many: bool, auto_complete: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._store = store
        self._io = io
        self._options = options
        self._many = many
        self._auto_complete = auto_complete
        self._clock = clock
        self._started: dict[int, float] = {}
        self.key = wake_key(path)

    @property
    def name(self) -> str:
        return self.key

    async def _receive_batch(self) -> list[BusMessage]:
        options = self._options
        got: list[BusMessage] = await self._io(self._store.receive, self.path, options.max_message_batch_size)
        if not got or len(got) >= options.min_message_batch_size:
            return got
        deadline = self._clock() + options.max_batch_wait_time
        import asyncio

        while len(got) < options.min_message_batch_size and self._clock() < deadline:
            await asyncio.sleep(MIN_POLL)
            got += await self._io(self._store.receive, self.path, options.max_message_batch_size - len(got))
        return got

    async def receive(self, max_messages: int) -> list[Delivery]:
        if self._many:
            batch = await self._receive_batch()
            if not batch:
                return []
            delivery = Delivery(str(batch[0].message.message_id), b"", max(m.delivery_count for m in batch), batch)
            self._started[id(delivery)] = self._clock()
            return [delivery]
        messages = await self._io(self._store.receive, self.path, max_messages)
        deliveries = []
        for message in messages:
            delivery = Delivery(str(message.message.message_id), message.body, message.delivery_count, message,
                                message.lock_token)
            self._started[id(delivery)] = self._clock()
            deliveries.append(delivery)
        return deliveries

    @staticmethod
    def tokens(delivery: Delivery) -> list[str]:
        native = delivery.native
        messages: Sequence[BusMessage] = native if isinstance(native, list) else [native]
        return [str(m.lock_token) for m in messages]

    async def complete(self, deliveries: Sequence[Delivery]) -> list[bool]:
        for delivery in deliveries:
            self._started.pop(id(delivery), None)
        if not self._auto_complete:
            return [True] * len(deliveries)  # the function settles (it cannot from Python): the lock runs out
        tokens = [t for d in deliveries for t in self.tokens(d)]
        done = iter(await self._io(self._store.settle, self.path, tokens, "complete"))
        return [all([next(done) for _ in self.tokens(d)]) for d in deliveries]

    async def abandon(self, delivery: Delivery, delay: float) -> None:
        self._started.pop(id(delivery), None)
        if self._auto_complete:
            await self._io(self._store.settle, self.path, self.tokens(delivery), "abandon")

    async def dead_letter(self, delivery: Delivery, reason: str) -> bool:
        self._started.pop(id(delivery), None)
        log.warning("%s Dead-lettering message %s of '%s'.", reason, delivery.id, self.path)
        done = [await self._io(self._store.dead_letter, self.path, token, UNREADABLE, reason)
                for token in self.tokens(delivery)]
        return all(done)

    async def renew(self, delivery: Delivery) -> bool:
        started = self._started.get(id(delivery))
        if started is None or self._clock() - started >= self._options.max_auto_lock_renewal:
            return False  # maxAutoLockRenewalDuration reached: the lock runs out
        renewed = [await self._io(self._store.renew, self.path, token) for token in self.tokens(delivery)]
        return all(until is not None for until in renewed)


class ServiceBusMessages:
    """The handler of a Service Bus-triggered function: a delivery becomes its invocation."""

    def __init__(self, spec: FunctionSpec, path: str, retry: RetrySpec | None, many: bool) -> None:
        self.spec = spec
        self.path = path
        self.retry = retry
        self._many = many
        self._reason = f"New ServiceBus message detected on '{path}'."

    def invocation(self, native: Any) -> Invocation:
        if self._many:
            datum, metadata = batch_datum(native)
            data: dict[str, Any] = {}
        else:
            datum, metadata, data = message_datums(native)
        return Invocation(function=self.spec, trigger=datum, trigger_metadata=metadata, reason=self._reason,
                          binding_data=data)

    async def __call__(self, delivery: Delivery) -> Prepared:
        return self.invocation(delivery.native), self.retry
