"""The Event Grid store: local topics' published events, their deliveries per subscription, and dead letters.

Publishing and delivering are two steps, as in Event Grid. ``publish`` appends events to a topic's inbox (any
process may publish: an output binding, ``overcast eventgrid publish``, a blob write); ``fan_out`` (run by a host)
turns inbox events into one *delivery* per matching subscription, in one transaction, so an event is never routed
twice nor lost between the steps. A delivery is claimed under a lease (``claim``), then completed, rescheduled
(``retry``) or moved to the dead letters (``dead_letter``), each only by the claim that holds it: with several
instances on one store, each delivery is attempted by one of them at a time.

Events are stored as the JSON text of one event (Event Grid schema or CloudEvents 1.0): the store never parses them.
Every backend implements this Protocol (memory, SQLite, ...) and passes ``tests/contract/test_eventgrid_store.py``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from overcast.backends.changes import ChangeSource
from overcast.errors import StoreError

MAX_CLAIM = 256  # deliveries per claim


@dataclass(frozen=True)
class Route:
    """Where fan-out sends one inbox event: a subscription, and when the delivery expires (seconds since epoch)."""

    subscription: str
    expires: float


# (topic, event JSON text, published time) -> the subscriptions that take the event; [] drops it.
Router = Callable[[str, str, float], Sequence[Route]]


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one subscription."""

    id: str
    topic: str
    subscription: str
    event: str  # the JSON text of one event
    published: float
    expires: float  # the event's time to live ends (Event Grid's eventTimeToLive)
    due: float  # when it may be attempted (while claimed: when the claim's lease ends)
    attempts: int  # claims so far, this one included
    last_error: str
    last_status: int | None  # the last attempt's HTTP status (a function's failure: None)
    receipt: str | None  # the claim's token (None when listed, not claimed)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    topic: str
    subscription: str
    event: str
    published: float
    attempts: int
    reason: str  # Event Grid's deadLetterReason: MaxDeliveryAttemptsExceeded, TimeToLiveExceeded, ...
    last_error: str
    last_status: int | None
    dead_at: float


def new_delivery_id() -> str:
    return str(uuid.uuid4())


def new_receipt() -> str:
    return secrets.token_urlsafe(12)


def check_topic(topic: str) -> str:
    """Topic names: 3-50 letters, digits and '-' in Event Grid; kept lower-case (names ignore case)."""
    if not isinstance(topic, str) or not 1 <= len(topic) <= 128 or not all(c.isalnum() or c in "-_." for c in topic):
        raise StoreError(f"Event Grid topic name {topic!r} is not valid: use 1-128 letters, digits, '-', '_' or '.'.")
    return topic.lower()


def check_claim(limit: int, lease: float) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_CLAIM:
        raise StoreError(f"The number of deliveries to claim must be between 1 and {MAX_CLAIM}, got {limit!r}.")
    if not lease > 0:
        raise StoreError(f"A delivery lease must be more than 0 seconds, got {lease!r}.")


class EventGridStore(ChangeSource, Protocol):
    """Safe to call from several threads and (for backends that reopen) several processes. Its changes
    (:mod:`overcast.backends.changes`) are named by topic: events published, or deliveries routed from them."""

    def publish(self, topic: str, events: Sequence[str]) -> int:
        """Append events (JSON text, one event each) to the topic's inbox; how many were added."""
        ...

    def fan_out(self, router: Router, limit: int) -> int:
        """Route up to ``limit`` inbox events, oldest first, in one transaction: each becomes one delivery per
        :class:`Route` the router gives (due at once) and leaves the inbox. How many inbox events were taken."""
        ...

    def claim(self, limit: int, lease: float, excluding: Collection[str] = ()) -> list[Delivery]:
        """Up to ``limit`` due deliveries, earliest due first, each given a new receipt, ``attempts + 1`` and
        hidden for ``lease`` seconds (it comes back if not settled by then). ``excluding``: subscriptions whose
        deliveries are left to other instances (those of functions this instance does not run)."""
        ...

    def complete(self, delivery_id: str, receipt: str) -> bool:
        """Delete a delivered delivery; False when the receipt is stale (the lease ended and it was claimed again)."""
        ...

    def retry(self, delivery_id: str, receipt: str, delay: float, error: str, status: int | None) -> bool:
        """Make the delivery due again ``delay`` seconds from now, recording the failure; False when stale."""
        ...

    def dead_letter(self, delivery_id: str, receipt: str, reason: str, error: str, status: int | None) -> bool:
        """Move the delivery to the dead letters in one transaction; False when stale."""
        ...

    def drop(self, delivery_id: str, receipt: str) -> bool:
        """Delete a delivery that is not to be delivered nor dead-lettered (its subscription is gone)."""
        ...

    def next_due(self, excluding: Collection[str] = ()) -> float | None:
        """When the next delivery (not of ``excluding``) is due, or now if the inbox holds events; None when there is
        nothing at all."""
        ...

    def pending(self, limit: int = 1000) -> list[Delivery]:
        """Deliveries not yet done (claimed or not), earliest due first, without receipts."""
        ...

    def inbox_size(self) -> int:
        """Events published and not yet routed."""
        ...

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        """Dead-lettered deliveries, most recent first."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...
