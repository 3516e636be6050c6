"""MemoryQueueService: the in-memory queue store with queues as objects (metadata, listing) for the Queue API."""

from __future__ import annotations

import time
from collections.abc import Mapping

from overcast.backends.base import QueuedMessage, expiry, new_pop_receipt, utc
from overcast.backends.memory.common import Clock
from overcast.backends.memory.queues import MemoryQueueStore
from overcast.backends.names import (
    check_count,
    validate_queue_name,
)
from overcast.backends.queue_service_store import (
    MAX_LIST,
    CreateOutcome,
    MessageProblem,
    QueueInfo,
    QueueProperties,
    UpdatedMessage,
    frozen_metadata,
    same_metadata,
)
from overcast.backends.store_checks import check_message_update, check_new_message, queue_metadata


class MemoryQueueService(MemoryQueueStore):
    """Implements QueueServiceStore and QueueBackend on one object: the service sees the triggers' messages."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._metadata: dict[str, dict[str, str]] = {}

    def create_queue(self, queue: str, metadata: Mapping[str, str]) -> CreateOutcome:
        wanted = queue_metadata(queue, metadata)
        with self._open():
            if queue in self._queues:
                same = same_metadata(self._metadata.get(queue, {}), wanted)
                return CreateOutcome.EXISTS_SAME if same else CreateOutcome.EXISTS_DIFFERENT
            self._queues[queue] = {}
            self._metadata[queue] = wanted
            return CreateOutcome.CREATED

    def queue_properties(self, queue: str) -> QueueProperties | None:
        validate_queue_name(queue)
        with self._open() as now:
            messages = self._queues.get(queue)
            if messages is None:
                return None
            count = sum(1 for m in messages.values() if m.expires > now)
            return QueueProperties(frozen_metadata(self._metadata.get(queue, {})), count)

    def set_queue_metadata(self, queue: str, metadata: Mapping[str, str]) -> bool:
        wanted = queue_metadata(queue, metadata)
        with self._open():
            if queue not in self._queues:
                return False
            self._metadata[queue] = wanted
            return True

    def list_queue_page(self, prefix: str, marker: str, max_results: int) -> tuple[list[QueueInfo], str]:
        check_count("The number of queues to list", max_results, MAX_LIST)
        with self._open():
            names = sorted(n for n in self._queues if n.startswith(prefix) and n >= marker)
            page = [QueueInfo(n, frozen_metadata(self._metadata.get(n, {}))) for n in names[:max_results]]
        return page, names[max_results] if len(names) > max_results else ""

    def put_message(self, queue: str, body: bytes, visibility_timeout: float,
                    ttl: float | None) -> QueuedMessage | None:
        check_new_message(queue, body, visibility_timeout, ttl)
        with self._open() as now:
            if queue not in self._queues:
                return None
            message = self._add(queue, body, now, visibility_timeout, expiry(now, ttl))
            return message.snapshot(message.receipt)

    def _known(self, queue: str) -> bool:
        with self._open():
            return queue in self._queues

    # A queue deleted between the check and the operation reads as empty, as it would a moment later.
    def get_messages(self, queue: str, count: int, visibility_timeout: float) -> list[QueuedMessage] | None:
        return self.receive(queue, count, visibility_timeout) if self._known(validate_queue_name(queue)) else None

    def peek_messages(self, queue: str, count: int) -> list[QueuedMessage] | None:
        return self.peek(queue, count) if self._known(validate_queue_name(queue)) else None

    def clear_messages(self, queue: str) -> bool:
        with self._open():
            messages = self._queues.get(validate_queue_name(queue))
            if messages is None:
                return False
            messages.clear()
            return True

    def _problem(self, queue: str, message_id: str, now: float) -> MessageProblem:
        """Why ``_claimed`` found no message (under the lock)."""
        messages = self._queues.get(queue)
        if messages is None:
            return MessageProblem.QUEUE_NOT_FOUND
        message = messages.get(message_id)
        if message is None or message.expires <= now:
            return MessageProblem.MESSAGE_NOT_FOUND
        return MessageProblem.POP_RECEIPT_MISMATCH  # the message is there and live: another receipt claims it

    def update_message(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float,
                       body: bytes | None = None) -> UpdatedMessage | MessageProblem:
        check_message_update(queue, visibility_timeout, body)
        with self._open() as now:
            message = self._claimed(queue, message_id, pop_receipt, now)
            if message is None:
                return self._problem(queue, message_id, now)
            message.visible = now + visibility_timeout
            message.receipt = new_pop_receipt()
            if body is not None:
                message.body = bytes(body)
            return UpdatedMessage(message.receipt, utc(message.visible))

    def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> MessageProblem | None:
        validate_queue_name(queue)
        with self._open() as now:
            message = self._claimed(queue, message_id, pop_receipt, now)
            if message is None:
                return self._problem(queue, message_id, now)
            del self._queues[queue][message_id]
            return None

    def delete_queue(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._open():
            self._metadata.pop(queue, None)
            return self._queues.pop(queue, None) is not None
