"""PostgresEventGridStore: Event Grid inboxes, deliveries and dead letters in PostgreSQL, shared by instances on
many machines.

Fan-out runs under a transaction-scoped advisory lock (routing is a callback, so the inbox rows it takes must not be
taken by another instance meanwhile); claims pick due rows with ``FOR UPDATE SKIP LOCKED``, so instances claiming at
once never wait for each other nor get the same delivery.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

from overcast.backends.base import Clock
from overcast.backends.eventgrid_store import (
    DeadLetter,
    Delivery,
    Router,
    check_claim,
    check_topic,
    new_delivery_id,
)
from overcast.backends.postgresql.notify import NotifyingStore

_COLUMNS = "id, topic, subscription, event, published, expires, due, attempts, last_error, last_status"


def _delivery(row: Sequence[Any], receipt: str | None = None) -> Delivery:
    did, topic, subscription, event, published, expires, due, attempts, error, status = row[:10]
    return Delivery(str(did), str(topic), str(subscription), str(event), float(published), float(expires),
                    float(due), int(attempts), str(error), None if status is None else int(status), receipt)


class PostgresEventGridStore(NotifyingStore):
    """Implements EventGridStore."""

    kind = "event grid store"
    channel = "overcast_eventgrid"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def publish(self, topic: str, events: Sequence[str]) -> int:
        topic = check_topic(topic)
        rows = [str(event) for event in events]
        if not rows:
            return 0
        with self._connection(f"publish to Event Grid topic {topic!r}") as conn:
            now = self._clock()
            conn.execute("BEGIN")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO eventgrid_inbox (topic, event, published) VALUES (%s, %s, %s)",
                                   [(topic, event, now) for event in rows])
            self._changed(conn, topic)
            conn.execute("COMMIT")
        return len(rows)

    def fan_out(self, router: Router, limit: int) -> int:
        with self._connection("route Event Grid events") as conn:
            if conn.execute("SELECT 1 FROM eventgrid_inbox LIMIT 1").fetchone() is None:
                return 0
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('overcast.eventgrid.fanout'))")
            now = self._clock()
            taken = conn.execute(
                "SELECT seq, topic, event, published FROM eventgrid_inbox ORDER BY seq LIMIT %s", (limit,)
            ).fetchall()
            rows = [(new_delivery_id(), int(seq), topic, route.subscription, event, published, route.expires, now)
                    for seq, topic, event, published in taken
                    for route in router(str(topic), str(event), float(published))]
            with conn.cursor() as cursor:
                if rows:
                    cursor.executemany(
                        "INSERT INTO eventgrid_deliveries (id, seq, topic, subscription, event, published, expires, "
                        "due) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
                if taken:
                    cursor.execute("DELETE FROM eventgrid_inbox WHERE seq <= %s", (taken[-1][0],))
            for topic in sorted({row[2] for row in rows}):  # deliveries any instance may claim now
                self._changed(conn, topic)
            conn.execute("COMMIT")
        return len(taken)

    def claim(self, limit: int, lease: float, excluding: Collection[str] = ()) -> list[Delivery]:
        check_claim(limit, lease)
        names = sorted(excluding)
        with self._connection("claim Event Grid deliveries") as conn:
            now = self._clock()
            rows = conn.execute(
                "WITH due AS (SELECT id, due AS was_due FROM eventgrid_deliveries WHERE due <= %(now)s "
                "AND NOT (subscription = ANY(%(names)s::text[])) "
                "ORDER BY due, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                "UPDATE eventgrid_deliveries d SET due = %(until)s, attempts = d.attempts + 1, "
                "receipt = md5(random()::text || d.id) FROM due WHERE d.id = due.id "
                f"RETURNING {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))}, d.receipt, due.was_due, d.seq",
                {"now": now, "limit": limit, "until": now + lease, "names": names},
            ).fetchall()
        rows.sort(key=lambda row: (row[11], row[12]))  # the order they were due in
        return [_delivery(row, str(row[10])) for row in rows]

    def complete(self, delivery_id: str, receipt: str) -> bool:
        with self._connection("complete an Event Grid delivery") as conn:
            cursor = conn.execute("DELETE FROM eventgrid_deliveries WHERE id = %s AND receipt = %s",
                                  (delivery_id, receipt))
        return cursor.rowcount == 1

    drop = complete

    def retry(self, delivery_id: str, receipt: str, delay: float, error: str, status: int | None) -> bool:
        with self._connection("reschedule an Event Grid delivery") as conn:
            cursor = conn.execute(
                "UPDATE eventgrid_deliveries SET due = %s, last_error = %s, last_status = %s, receipt = NULL "
                "WHERE id = %s AND receipt = %s",
                (self._clock() + max(0.0, delay), error, status, delivery_id, receipt))
        return cursor.rowcount == 1

    def dead_letter(self, delivery_id: str, receipt: str, reason: str, error: str, status: int | None) -> bool:
        with self._connection("dead-letter an Event Grid delivery") as conn:
            row = conn.execute(
                "WITH gone AS (DELETE FROM eventgrid_deliveries WHERE id = %s AND receipt = %s "
                "RETURNING id, topic, subscription, event, published, attempts) "
                "INSERT INTO eventgrid_dead (id, topic, subscription, event, published, attempts, reason, last_error, "
                "last_status, dead_at) SELECT id, topic, subscription, event, published, attempts, %s, %s, %s, %s "
                "FROM gone RETURNING id",
                (delivery_id, receipt, reason, error, status, self._clock())).fetchone()
        return row is not None

    def next_due(self, excluding: Collection[str] = ()) -> float | None:
        names = sorted(excluding)
        with self._connection("read the next Event Grid delivery") as conn:
            if conn.execute("SELECT 1 FROM eventgrid_inbox LIMIT 1").fetchone() is not None:
                return self._clock()
            row = conn.execute("SELECT MIN(due) FROM eventgrid_deliveries WHERE NOT (subscription = ANY(%s::text[]))",
                               (names,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending(self, limit: int = 1000) -> list[Delivery]:
        with self._connection("list Event Grid deliveries") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM eventgrid_deliveries ORDER BY due, seq LIMIT %s", (limit,)
            ).fetchall()
        return [_delivery(row) for row in rows]

    def inbox_size(self) -> int:
        with self._connection("count Event Grid inbox events") as conn:
            row = conn.execute("SELECT COUNT(*) FROM eventgrid_inbox").fetchone()
        return int(row[0]) if row else 0

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._connection("list Event Grid dead letters") as conn:
            rows = conn.execute(
                "SELECT id, topic, subscription, event, published, attempts, reason, last_error, last_status, dead_at "
                "FROM eventgrid_dead ORDER BY dead_at DESC, id LIMIT %s", (limit,)
            ).fetchall()
        return [DeadLetter(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]), int(r[5]), str(r[6]), str(r[7]),
                           None if r[8] is None else int(r[8]), float(r[9])) for r in rows]
