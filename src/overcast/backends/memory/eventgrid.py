"""MemoryEventGridStore: Event Grid inboxes, deliveries and dead letters in dicts, for tests and one process."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Collection, Sequence

from overcast.backends.changes import HeardInProcess
from overcast.backends.eventgrid_store import (
    DeadLetter,
    Delivery,
    Router,
    check_claim,
    check_topic,
    new_delivery_id,
    new_receipt,
)
from overcast.backends.memory.common import Clock, MemoryStore


class MemoryEventGridStore(MemoryStore, HeardInProcess):
    """Implements EventGridStore."""

    kind = "event grid store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._inbox: list[tuple[str, str, float]] = []  # (topic, event, published), oldest first
        self._deliveries: dict[str, tuple[int, Delivery]] = {}  # id -> (insertion order, delivery)
        self._dead: list[DeadLetter] = []
        self._order = itertools.count()

    def publish(self, topic: str, events: Sequence[str]) -> int:
        topic = check_topic(topic)
        with self._open() as now:
            self._inbox.extend((topic, str(event), now) for event in events)
        return len(events)

    def fan_out(self, router: Router, limit: int) -> int:
        with self._open() as now:
            taken, self._inbox = self._inbox[:limit], self._inbox[limit:]
            routed: list[Delivery] = []
            try:
                for topic, event, published in taken:
                    routed += [
                        Delivery(new_delivery_id(), topic, route.subscription, event, published, route.expires, now,
                                 0, "", None, None)
                        for route in router(topic, event, published)
                    ]
            except BaseException:
                self._inbox[:0] = taken  # as a rolled back transaction: nothing taken
                raise
            for delivery in routed:
                self._deliveries[delivery.id] = (next(self._order), delivery)
        return len(taken)

    def claim(self, limit: int, lease: float, excluding: Collection[str] = ()) -> list[Delivery]:
        check_claim(limit, lease)
        with self._open() as now:
            due = sorted((d.due, order, d) for order, d in self._deliveries.values()
                         if d.due <= now and d.subscription not in excluding)[:limit]
            claimed = []
            for _, order, delivery in due:
                taken = dataclasses.replace(delivery, due=now + lease, attempts=delivery.attempts + 1,
                                            receipt=new_receipt())
                self._deliveries[delivery.id] = (order, taken)
                claimed.append(taken)
            return claimed

    def _held(self, delivery_id: str, receipt: str) -> tuple[int, Delivery] | None:
        found = self._deliveries.get(delivery_id)
        if found is None or found[1].receipt != receipt:
            return None
        return found

    def complete(self, delivery_id: str, receipt: str) -> bool:
        with self._open():
            if self._held(delivery_id, receipt) is None:
                return False
            del self._deliveries[delivery_id]
            return True

    drop = complete

    def retry(self, delivery_id: str, receipt: str, delay: float, error: str, status: int | None) -> bool:
        with self._open() as now:
            found = self._held(delivery_id, receipt)
            if found is None:
                return False
            order, delivery = found
            self._deliveries[delivery_id] = (order, dataclasses.replace(
                delivery, due=now + max(0.0, delay), last_error=error, last_status=status, receipt=None))
            return True

    def dead_letter(self, delivery_id: str, receipt: str, reason: str, error: str, status: int | None) -> bool:
        with self._open() as now:
            found = self._held(delivery_id, receipt)
            if found is None:
                return False
            d = found[1]
            del self._deliveries[delivery_id]
            self._dead.append(DeadLetter(d.id, d.topic, d.subscription, d.event, d.published, d.attempts, reason,
                                         error, status, now))
            return True

    def next_due(self, excluding: Collection[str] = ()) -> float | None:
        with self._open() as now:
            if self._inbox:
                return now
            return min((d.due for _, d in self._deliveries.values() if d.subscription not in excluding), default=None)

    def pending(self, limit: int = 1000) -> list[Delivery]:
        with self._open():
            ordered = sorted(self._deliveries.values(), key=lambda item: (item[1].due, item[0]))
            return [dataclasses.replace(d, receipt=None) for _, d in ordered[:limit]]

    def inbox_size(self) -> int:
        with self._open():
            return len(self._inbox)

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._open():
            return list(reversed(self._dead))[:limit]
