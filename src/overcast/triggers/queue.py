"""The queue trigger (§6.1): a :class:`MessageLoop` over a storage queue, with the Storage extension's semantics.

A message is deleted only after its function succeeds. A failure makes it visible again after
``visibilityTimeout``; the ``maxDequeueCount``-th failure moves it to ``<queue>-poison``. A body that cannot be
decoded, or whose JSON is nested too deeply to read, goes straight to poison. While a function runs, its message
stays invisible (a lease renewed at half its length), so a killed instance's messages come back to another one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.base import QueueStore
from overcast.bindings.queue import binding_data, trigger_datum
from overcast.invoke.model import Invocation, Result
from overcast.triggers.loop import MessageLoop, Prepared
from overcast.triggers.messages import Delivery
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.storage_queue import POISON_SUFFIX, StorageQueueSource, poison_queue_name, queue_policy
from overcast.triggers.wakeup import Wakeups

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

__all__ = ["POISON_SUFFIX", "QueueMessages", "poison_queue_name", "queue_listener", "queue_listeners"]


class QueueMessages:
    """The handler of a queue-triggered function: a message becomes its invocation."""

    def __init__(self, spec: FunctionSpec, queue: str, retry: RetrySpec | None) -> None:
        self.spec = spec
        self.queue = queue
        self._retry = retry

    async def __call__(self, delivery: Delivery) -> Prepared:
        datum, metadata = trigger_datum(delivery.native, delivery.body)
        invocation = Invocation(
            function=self.spec, trigger=datum, trigger_metadata=metadata,
            reason=f"New queue message detected on '{self.queue}'.",
            binding_data=binding_data(delivery.native, delivery.body),
        )
        return invocation, self._retry


def queue_listener(spec: FunctionSpec, queue: str, store: QueueStore,
                   invoke: Callable[[Invocation], Awaitable[Result]], options: QueueOptions, wakeups: Wakeups,
                   io: Callable[..., Awaitable[Any]], retry: RetrySpec | None) -> MessageLoop:
    source = StorageQueueSource(queue, store, io, options.message_encoding, options.lease, poison_queue_name(queue),
                                wakeups)
    return MessageLoop(source, QueueMessages(spec, queue, retry), invoke, queue_policy(options), wakeups)


def queue_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """The listeners of the queue kind: one loop per queue-triggered function."""
    stores = context.stores
    return [
        queue_listener(spec, str(spec.trigger.get("queueName") or "").lower(), stores.consumer_queues or stores.queues,
                       context.invoke, context.queue_options, context.wakeups, context.io.background,
                       context.retry_for(spec))
        for spec in specs
    ]
