"""The Queue service store: what the Queue REST API needs beyond the queue store the triggers use.

A :class:`QueueServiceStore` works on the very messages the queue trigger and output binding see (each backend
implements it on its queue store), with queues as objects of their own: created empty with metadata, listed by
prefix page by page, and message operations that need the queue to exist and tell a missing message from a stale
pop receipt, as the service's error codes do. (This module imports nothing of ``backends.base``, which names it.)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from overcast.errors import StoreError

MAX_LIST = 5000  # Azure's largest page of a queue listing


class CreateOutcome(enum.Enum):
    CREATED = "created"
    EXISTS_SAME = "exists with the same metadata"  # Azure answers 204: an idempotent create
    EXISTS_DIFFERENT = "exists with other metadata"  # Azure answers 409 QueueAlreadyExists


class MessageProblem(enum.Enum):
    """Why a message operation did nothing."""

    QUEUE_NOT_FOUND = "QueueNotFound"
    MESSAGE_NOT_FOUND = "MessageNotFound"
    POP_RECEIPT_MISMATCH = "PopReceiptMismatch"


@dataclass(frozen=True)
class QueueInfo:
    name: str
    metadata: Mapping[str, str]  # read-only; names as they were given (Azure keeps their case)


@dataclass(frozen=True)
class QueueProperties:
    metadata: Mapping[str, str]
    approximate_count: int  # unexpired messages, visible or not


@dataclass(frozen=True)
class UpdatedMessage:
    pop_receipt: str
    next_visible: datetime


def frozen_metadata(metadata: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(metadata))


def check_metadata(queue: str, metadata: Mapping[str, str]) -> dict[str, str]:
    """A copy of queue metadata; names must be C# identifiers (they travel as ``x-ms-meta-<name>`` headers)."""
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        if not key.isidentifier() or not key.isascii():
            raise StoreError(
                f"Metadata name {key!r} of queue '{queue}' is invalid; use letters, digits and underscores, "
                f"not starting with a digit."
            )
        checked[key] = value
    return checked


def same_metadata(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Azure compares metadata names without case (they are HTTP header names) and values exactly."""
    return {k.lower(): v for k, v in a.items()} == {k.lower(): v for k, v in b.items()}


class Message(Protocol):
    """A message as the service returns it (the queue store's message type has these fields)."""

    @property
    def id(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def dequeue_count(self) -> int: ...
    @property
    def insertion_time(self) -> datetime: ...
    @property
    def expiration_time(self) -> datetime: ...
    @property
    def next_visible(self) -> datetime: ...
    @property
    def pop_receipt(self) -> str | None: ...


class QueueMessages(Protocol):
    """Message operations of the service: each needs the queue to exist (None or QUEUE_NOT_FOUND otherwise)."""

    def put_message(self, queue: str, body: bytes, visibility_timeout: float, ttl: float | None) -> Message | None:
        """As the queue store's enqueue (``ttl`` None: 7 days, -1: never), into an existing queue only."""
        ...

    def get_messages(self, queue: str, count: int, visibility_timeout: float) -> Sequence[Message] | None:
        """As the queue store's receive."""
        ...

    def peek_messages(self, queue: str, count: int) -> Sequence[Message] | None:
        """As the queue store's peek."""
        ...

    def clear_messages(self, queue: str) -> bool:
        """Delete every message; False when the queue does not exist."""
        ...

    def update_message(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float,
                       body: bytes | None = None) -> UpdatedMessage | MessageProblem:
        """Hide the message ``visibility_timeout`` s from now (0: visible at once), replace its body when given, and
        issue a new pop receipt; the dequeue count stays. An expired message is not found."""
        ...

    def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> MessageProblem | None:
        """Delete the message; None when it was deleted."""
        ...


class QueueServiceStore(QueueMessages, Protocol):
    """Queues as the Queue service sees them. Safe across threads and processes, as the queue store."""

    def create_queue(self, queue: str, metadata: Mapping[str, str]) -> CreateOutcome:
        """Create an empty queue with ``metadata``; an existing queue keeps its metadata and messages."""
        ...

    def queue_properties(self, queue: str) -> QueueProperties | None:
        """Metadata and approximate message count; None when the queue does not exist."""
        ...

    def set_queue_metadata(self, queue: str, metadata: Mapping[str, str]) -> bool:
        """Replace the metadata; False when the queue does not exist."""
        ...

    def list_queue_page(self, prefix: str, marker: str, max_results: int) -> tuple[list[QueueInfo], str]:
        """Queues whose name starts with ``prefix`` and is >= ``marker``, by name, at most ``max_results``
        (1-5000); the name to continue from ('' when none is left)."""
        ...

    def delete_queue(self, queue: str) -> bool:
        """Delete the queue with its messages and metadata; False when it did not exist."""
        ...

    def close(self) -> None: ...
