"""What a message listener needs from a messaging technology: the :class:`MessageSource` protocol.

The loop (:mod:`overcast.triggers.loop`) owns batching, lock renewal, retries, poison / dead-letter decisions and
settling; a source only adapts one technology to five calls. How each technology maps:

- **Storage queues** (:mod:`overcast.triggers.storage_queue`, the first adapter). ``receive`` pops up to N messages
  invisible for the lease; ``lock`` is the pop receipt (each update gives a new one, which the source stores back
  in the delivery); ``complete`` deletes (one ``delete_many`` per call, so the loop's group commit is one write);
  ``abandon(delay)`` sets the visibility to ``visibilityTimeout``; ``dead_letter`` moves the message to
  ``<queue>-poison`` (False when the queue has none); ``renew`` extends the visibility. ``delivery_count`` is the
  dequeue count. Policy: ``max_deliveries = maxDequeueCount``, ``limit_name = "MaxDequeueCount"``.
- **Service Bus** (peek-lock). ``receive`` peek-locks; ``lock`` is the lock token; ``complete`` / ``abandon`` /
  ``dead_letter(reason)`` are the broker's own settlements (the reason goes in ``DeadLetterReason``); ``renew``
  renews the message lock (or the session lock). ``delivery_count`` is the broker's delivery count. Policy:
  ``max_deliveries = maxDeliveryCount`` and ``limit_name = "MaxDeliveryCount"``: the loop dead-letters, exactly as
  the broker would on the next receive. ``abandon`` ignores ``delay`` (the broker redelivers at once), so the
  policy's ``retry_delay`` is 0.
- **Event Hubs** (partitions, checkpoints). A source owns the partitions it holds leases on; ``receive`` returns
  at most one delivery per partition, holding the whole batch of events as its body (the function gets them in one
  call, ``cardinality: many``), and none for a partition whose previous batch is still running. ``complete`` AND
  ``abandon`` both checkpoint past the batch: the host checkpoints after each batch whether the function succeeded
  or not, and Event Hubs never redelivers. ``renew`` is a no-op returning True (partition ownership is renewed by
  the source's own lease, not per message); ``dead_letter`` returns False (there is none). Policy:
  ``max_deliveries = None`` (no poison), ``renew_every = None``.
- **Broker-backed queues** (RabbitMQ, a PostgreSQL or Redis queue). ``receive`` takes with a visibility lease or an
  unacked delivery, ``complete`` acks / deletes, ``abandon`` nacks with requeue (or re-schedules after ``delay``),
  ``dead_letter`` publishes to the dead-letter queue / exchange; ``delivery_count`` is the redelivery count the
  broker keeps (or a header the source increments).

A body the source cannot decode (a bad base64 text, for instance) is returned with ``problem`` set: the loop
dead-letters it at once, as retrying cannot make it readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Delivery:
    """One received message, as the loop sees it."""

    id: str
    body: bytes  # decoded payload (what the function's trigger gets)
    delivery_count: int  # how many times it was received, this time included
    native: Any  # the technology's own message object (a QueuedMessage for storage queues): for the handler
    lock: str | None = None  # the receipt / lock token; a source that renews stores the new one here
    problem: str | None = None  # set by the source when the body cannot be decoded: dead-lettered at once


class MessageSource(Protocol):
    """A technology's messages, settled by the loop. Every call may raise; the loop logs and carries on."""

    @property
    def name(self) -> str:
        """The queue / entity / hub name: log lines and in-process wake-ups use it."""
        ...

    async def receive(self, max_messages: int) -> list[Delivery]: ...

    async def complete(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Settle successes (one write for all); True where the message was still held and is now gone."""
        ...

    async def abandon(self, delivery: Delivery, delay: float) -> None:
        """Give it back, to be received again after ``delay`` seconds (where the technology can delay)."""
        ...

    async def dead_letter(self, delivery: Delivery, reason: str) -> bool:
        """Move it to the poison / dead-letter destination with ``reason``; False when there is none."""
        ...

    async def renew(self, delivery: Delivery) -> bool:
        """Keep it locked for another lock period; False when the lock is lost (stop renewing)."""
        ...


@dataclass(frozen=True)
class LoopPolicy:
    """The per-source parameters of :class:`overcast.triggers.loop.MessageLoop`."""

    batch_size: int = 16  # messages asked for per receive
    new_batch_threshold: int = 8  # receive again once in-flight work is down to this
    max_polling_interval: float = 2.0  # the longest wait between empty receives
    max_deliveries: int | None = 5  # dead-letter on failure at this delivery count (None: never)
    limit_name: str = "MaxDequeueCount"  # how the log line names max_deliveries
    retry_delay: float = 0.0  # a failed message comes back after this (visibilityTimeout)
    renew_every: float | None = 300.0  # renew the lock of a running message this often (None: never)
