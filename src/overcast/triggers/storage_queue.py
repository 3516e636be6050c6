"""Storage queues as a :class:`~overcast.triggers.messages.MessageSource`: pop receipts and visibility."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from overcast.backends.base import QueueStore
from overcast.bindings.queue import decode_body
from overcast.errors import UndecodableMessage
from overcast.triggers.messages import Delivery, LoopPolicy
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.queues")
POISON_SUFFIX = "-poison"


def poison_queue_name(queue: str) -> str | None:
    """``<queue>-poison``, or None where the host has no poison queue (already poison, or name too long)."""
    if queue.endswith(POISON_SUFFIX) or len(queue) + len(POISON_SUFFIX) > 63:
        return None
    return queue + POISON_SUFFIX


def queue_policy(options: QueueOptions) -> LoopPolicy:
    """host.json ``extensions.queues`` as the loop's policy: maxDequeueCount failures end in the poison queue."""
    return LoopPolicy(
        batch_size=options.batch_size, new_batch_threshold=options.new_batch_threshold,
        max_polling_interval=options.max_polling_interval, max_deliveries=options.max_dequeue_count,
        limit_name="MaxDequeueCount", retry_delay=options.visibility_timeout, renew_every=options.lease / 2,
    )


class StorageQueueSource:
    """One queue of a :class:`QueueStore`; blocking store calls run on ``io`` (the listeners' background pool)."""

    def __init__(self, queue: str, store: QueueStore, io: Callable[..., Awaitable[Any]], encoding: str,
                 lease: float, poison: str | None, wakeups: Wakeups) -> None:
        self._queue = queue
        self._store = store
        self._io = io
        self._encoding = encoding
        self._lease = lease
        self._poison = poison
        self._wakeups = wakeups

    @property
    def name(self) -> str:
        return self._queue

    async def receive(self, max_messages: int) -> list[Delivery]:
        messages = await self._io(self._store.receive, self._queue, max_messages, self._lease)
        deliveries = []
        for message in messages:
            delivery = Delivery(message.id, b"", message.dequeue_count, message, message.pop_receipt)
            try:
                delivery.body = decode_body(message.body, self._encoding)
            except UndecodableMessage as exc:
                delivery.problem = f"{exc} MessageId={message.id}."
            deliveries.append(delivery)
        return deliveries

    async def complete(self, deliveries: Sequence[Delivery]) -> list[bool]:
        claimed = [(d.id, d.lock or "") for d in deliveries]
        return list(await self._io(self._store.delete_many, self._queue, claimed))

    async def abandon(self, delivery: Delivery, delay: float) -> None:
        await self._io(self._store.update_visibility, self._queue, delivery.id, delivery.lock or "", delay)

    async def dead_letter(self, delivery: Delivery, reason: str) -> bool:
        if self._poison is None:
            log.warning("%s Queue '%s' has no poison queue; the message stays invisible.", reason, self._queue)
            return False
        log.warning("%s Moving message to queue '%s'.", reason, self._poison)
        await self._io(self._store.move, self._queue, delivery.id, delivery.lock or "", self._poison)
        self._wakeups.wake(self._poison)
        return True

    async def renew(self, delivery: Delivery) -> bool:
        renewed = await self._io(self._store.update_visibility, self._queue, delivery.id, delivery.lock or "",
                                 self._lease)
        if renewed is None:
            return False
        delivery.lock = renewed
        return True
