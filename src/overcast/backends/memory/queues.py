"""MemoryQueueStore: Azure queue semantics in a dict, for tests and single-process runs."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from overcast.backends.base import (
    DEFAULT_TTL,
    MAX_RECEIVE,
    QueuedMessage,
    expiry,
    new_message_id,
    new_pop_receipt,
    utc,
)
from overcast.backends.changes import HeardInProcess
from overcast.backends.memory.common import Clock, MemoryStore
from overcast.backends.names import (
    check_count,
    check_visibility,
    validate_queue_name,
)
from overcast.backends.store_checks import check_new_message


@dataclass
class _Message:
    id: str
    seq: int  # insertion order, the tie-break after the visible time (as the SQLite rowid)
    body: bytes
    dequeue_count: int
    inserted: float
    expires: float
    visible: float
    receipt: str | None

    def order(self) -> tuple[float, float, int]:
        return (self.visible, self.inserted, self.seq)

    def snapshot(self, receipt: str | None) -> QueuedMessage:
        return QueuedMessage(self.id, self.body, self.dequeue_count, utc(self.inserted), utc(self.expires),
                             utc(self.visible), receipt)


class MemoryQueueStore(MemoryStore, HeardInProcess):
    """Implements QueueStore and QueueAdmin. Receives scan the queue: fine for tests and modest backlogs."""

    kind = "queue store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._queues: dict[str, dict[str, _Message]] = {}
        self._seq = itertools.count()

    def _add(self, queue: str, body: bytes, now: float, delay: float, expires: float) -> _Message:
        message = _Message(new_message_id(), next(self._seq), bytes(body), 0, now, expires, now + delay,
                           new_pop_receipt())
        self._queues.setdefault(queue, {})[message.id] = message
        return message

    def _claimed(self, queue: str, message_id: str, pop_receipt: str, now: float) -> _Message | None:
        """The message when ``pop_receipt`` is its current receipt and it has not expired."""
        message = self._queues.get(queue, {}).get(message_id)
        if message is None or message.receipt != pop_receipt or message.expires <= now:
            return None
        return message

    def _ready(self, queue: str, now: float, count: int) -> list[_Message]:
        """Up to ``count`` visible messages in receive order; expired ones are dropped on the way."""
        messages = self._queues.get(queue)
        if not messages:
            return []
        for message_id in [m.id for m in messages.values() if m.expires <= now]:
            del messages[message_id]
        visible = (m for m in messages.values() if m.visible <= now)
        return heapq.nsmallest(count, visible, key=_Message.order)

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        check_new_message(queue, body, delay, ttl)
        with self._open() as now:
            message = self._add(queue, body, now, delay, expiry(now, ttl))
            return message.snapshot(message.receipt)

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to receive", max_messages, MAX_RECEIVE)
        check_visibility(visibility_timeout)
        with self._open() as now:
            claimed = []
            for message in self._ready(queue, now, max_messages):
                message.dequeue_count += 1
                message.visible = now + visibility_timeout
                message.receipt = new_pop_receipt()
                claimed.append(message.snapshot(message.receipt))
            return claimed

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        validate_queue_name(queue)
        with self._open() as now:
            if self._claimed(queue, message_id, pop_receipt, now) is None:
                return False
            del self._queues[queue][message_id]
            return True

    def delete_many(self, queue: str, claimed: Sequence[tuple[str, str]]) -> list[bool]:
        validate_queue_name(queue)
        with self._open() as now:  # one critical section, as the other backends' one transaction
            deleted = []
            for message_id, pop_receipt in claimed:
                found = self._claimed(queue, message_id, pop_receipt, now) is not None
                if found:
                    del self._queues[queue][message_id]
                deleted.append(found)
            return deleted

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        validate_queue_name(queue)
        check_visibility(visibility_timeout)
        with self._open() as now:
            message = self._claimed(queue, message_id, pop_receipt, now)
            if message is None:
                return None
            message.visible = now + visibility_timeout
            message.receipt = new_pop_receipt()
            return message.receipt

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        validate_queue_name(queue)
        validate_queue_name(to_queue)
        with self._open() as now:
            message = self._claimed(queue, message_id, pop_receipt, now)
            if message is None:
                return False
            del self._queues[queue][message_id]
            self._add(to_queue, message.body, now, 0.0, now + DEFAULT_TTL)
            return True

    def list_queues(self) -> dict[str, int]:
        with self._open() as now:
            return {name: sum(1 for m in messages.values() if m.expires > now)
                    for name, messages in sorted(self._queues.items())}

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to peek", max_messages)
        with self._open() as now:
            return [message.snapshot(None) for message in self._ready(queue, now, max_messages)]

    def clear(self, queue: str) -> int:
        validate_queue_name(queue)
        with self._open() as now:
            messages = self._queues.get(queue, {})
            count = sum(1 for m in messages.values() if m.expires > now)
            messages.clear()
            return count

    def delete_queue(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._open():
            return self._queues.pop(queue, None) is not None
