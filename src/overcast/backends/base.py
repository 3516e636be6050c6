"""The storage seam: every backend (memory, SQLite, later PostgreSQL) offers these few operations.

Values are strings so that a backend never has to guess a serialisation; callers store JSON when they need structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class StateStore(Protocol):
    """A small, shared key/value store. Every method is safe to call from several threads and processes."""

    def get(self, key: str) -> str | None:
        """The stored value, or None when the key is absent."""
        ...

    def put(self, key: str, value: str) -> None:
        """Insert or overwrite."""
        ...

    def put_if_absent(self, key: str, value: str) -> str:
        """Insert unless the key exists, atomically; return the value stored now (ours or the earlier one).

        Two instances that generate a secret at the same time both call this and both keep the winner's value.
        """
        ...

    def delete(self, key: str) -> bool:
        """Remove the key; False when it was not there."""
        ...

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Every key starting with ``prefix`` (a literal prefix, never a pattern) with its value."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


@dataclass(frozen=True)
class QueuedMessage:
    """A queue message as stored (the body is what the queue holds: base64 text with the default encoding)."""

    id: str
    body: bytes
    dequeue_count: int
    insertion_time: datetime
    expiration_time: datetime
    next_visible: datetime
    pop_receipt: str | None  # None for peeked messages


class QueueStore(Protocol):
    """Azure Storage queue semantics: visibility timeouts, pop receipts, dequeue counts; safe across processes."""

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        """Add a message (creating the queue); ``ttl`` default 7 days, -1 never expires."""
        ...

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        """Claim up to ``max_messages`` visible messages in insertion order, atomically (one transaction)."""
        ...

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        """Delete a claimed message; False when the receipt is stale."""
        ...

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        """Hide the message for ``visibility_timeout`` more seconds; the new receipt, or None when stale."""
        ...

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        """Poison handling in one transaction: copy the body to ``to_queue`` (dequeue count 0), delete the original."""
        ...


class QueueAdmin(Protocol):
    def list_queues(self) -> dict[str, int]: ...

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]: ...

    def clear(self, queue: str) -> int: ...


class LeaseStore(Protocol):
    """Singleton locks shared by instances (timers): one owner at a time, expiring unless renewed."""

    def acquire(self, name: str, owner: str, duration: float) -> bool:
        """True when the lease was free, expired, or already ours (then it is renewed)."""
        ...

    def release(self, name: str, owner: str) -> None: ...

    def holder(self, name: str) -> str | None: ...
