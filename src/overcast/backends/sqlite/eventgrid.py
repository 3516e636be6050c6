"""SqliteEventGridStore: Event Grid inboxes, deliveries and dead letters in ``overcast.db``, shared by processes.

Fan-out and claims are ``BEGIN IMMEDIATE`` transactions (select, then write), so instances working at once never
route an inbox event twice nor claim the same delivery. The statements are plain SQL that ports to PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from overcast.backends.base import Clock
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
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

EVENTGRID_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS eventgrid_inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
    "event TEXT NOT NULL, published REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS eventgrid_deliveries (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, topic TEXT NOT NULL, "
    "subscription TEXT NOT NULL, event TEXT NOT NULL, published REAL NOT NULL, expires REAL NOT NULL, "
    "due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', "
    "last_status INTEGER, receipt TEXT)",
    "CREATE INDEX IF NOT EXISTS eventgrid_deliveries_due ON eventgrid_deliveries (due, seq)",
    "CREATE TABLE IF NOT EXISTS eventgrid_dead (id TEXT PRIMARY KEY, topic TEXT NOT NULL, subscription TEXT NOT NULL, "
    "event TEXT NOT NULL, published REAL NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, "
    "last_error TEXT NOT NULL, last_status INTEGER, dead_at REAL NOT NULL)",
]
_COLUMNS = "id, topic, subscription, event, published, expires, due, attempts, last_error, last_status"


def _skipping(excluding: Collection[str]) -> tuple[str, list[str]]:
    """The ``AND subscription NOT IN (...)`` clause and its names (nothing when none is excluded)."""
    names = sorted(excluding)
    return (f" AND subscription NOT IN ({', '.join('?' * len(names))})" if names else ""), names


def _delivery(row: Sequence[Any], receipt: str | None = None, **changes: Any) -> Delivery:
    did, topic, subscription, event, published, expires, due, attempts, error, status = row[:10]
    delivery = Delivery(str(did), str(topic), str(subscription), str(event), float(published), float(expires),
                        float(due), int(attempts), str(error), None if status is None else int(status), receipt)
    if changes:
        delivery = dataclasses.replace(delivery, **changes)
    return delivery


class SqliteEventGridStore(SqliteDatabase, HeardInProcess):
    """Implements EventGridStore."""

    kind = "event grid store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *EVENTGRID_SCHEMA])
        self._clock = clock

    def publish(self, topic: str, events: Sequence[str]) -> int:
        topic = check_topic(topic)
        rows = [(topic, str(event)) for event in events]
        if not rows:
            return 0
        with self._connection(f"publish to Event Grid topic {topic!r}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            conn.executemany("INSERT INTO eventgrid_inbox (topic, event, published) VALUES (?, ?, ?)",
                             [(t, e, now) for t, e in rows])
            conn.execute("COMMIT")
        return len(rows)

    def fan_out(self, router: Router, limit: int) -> int:
        with self._connection("route Event Grid events") as conn:
            if conn.execute("SELECT 1 FROM eventgrid_inbox LIMIT 1").fetchone() is None:
                return 0  # an idle host polls: no write lock when there is nothing to route
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            taken = conn.execute(
                "SELECT seq, topic, event, published FROM eventgrid_inbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
            rows = []
            for seq, topic, event, published in taken:
                for route in router(str(topic), str(event), float(published)):
                    rows.append((new_delivery_id(), int(seq), topic, route.subscription, event, published,
                                 route.expires, now))
            conn.executemany(
                "INSERT INTO eventgrid_deliveries (id, seq, topic, subscription, event, published, expires, due) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if taken:
                conn.execute("DELETE FROM eventgrid_inbox WHERE seq <= ?", (taken[-1][0],))
            conn.execute("COMMIT")
        return len(taken)

    def claim(self, limit: int, lease: float, excluding: Collection[str] = ()) -> list[Delivery]:
        check_claim(limit, lease)
        skip, names = _skipping(excluding)
        with self._connection("claim Event Grid deliveries") as conn:
            probe = f"SELECT 1 FROM eventgrid_deliveries WHERE due <= ?{skip} LIMIT 1"
            if conn.execute(probe, (self._clock(), *names)).fetchone() is None:
                return []
            conn.execute("BEGIN IMMEDIATE")
            now = self._clock()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM eventgrid_deliveries WHERE due <= ?{skip} ORDER BY due, seq LIMIT ?",
                (now, *names, limit),
            ).fetchall()
            claimed = [_delivery(row, new_receipt(), due=now + lease, attempts=int(row[7]) + 1) for row in rows]
            conn.executemany(
                "UPDATE eventgrid_deliveries SET due = ?, attempts = attempts + 1, receipt = ? WHERE id = ?",
                [(d.due, d.receipt, d.id) for d in claimed])
            conn.execute("COMMIT")
        return claimed

    def complete(self, delivery_id: str, receipt: str) -> bool:
        with self._connection("complete an Event Grid delivery") as conn:
            cursor = conn.execute("DELETE FROM eventgrid_deliveries WHERE id = ? AND receipt = ?",
                                  (delivery_id, receipt))
        return cursor.rowcount == 1

    drop = complete

    def retry(self, delivery_id: str, receipt: str, delay: float, error: str, status: int | None) -> bool:
        with self._connection("reschedule an Event Grid delivery") as conn:
            cursor = conn.execute(
                "UPDATE eventgrid_deliveries SET due = ?, last_error = ?, last_status = ?, receipt = NULL "
                "WHERE id = ? AND receipt = ?",
                (self._clock() + max(0.0, delay), error, status, delivery_id, receipt))
        return cursor.rowcount == 1

    def dead_letter(self, delivery_id: str, receipt: str, reason: str, error: str, status: int | None) -> bool:
        with self._connection("dead-letter an Event Grid delivery") as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM eventgrid_deliveries WHERE id = ? AND receipt = ?", (delivery_id, receipt)
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return False
            d = _delivery(row)
            conn.execute(
                "INSERT INTO eventgrid_dead (id, topic, subscription, event, published, attempts, reason, last_error, "
                "last_status, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.id, d.topic, d.subscription, d.event, d.published, d.attempts, reason, error, status,
                 self._clock()))
            conn.execute("DELETE FROM eventgrid_deliveries WHERE id = ?", (delivery_id,))
            conn.execute("COMMIT")
        return True

    def next_due(self, excluding: Collection[str] = ()) -> float | None:
        skip, names = _skipping(excluding)
        with self._connection("read the next Event Grid delivery") as conn:
            if conn.execute("SELECT 1 FROM eventgrid_inbox LIMIT 1").fetchone() is not None:
                return self._clock()
            row = conn.execute(f"SELECT MIN(due) FROM eventgrid_deliveries WHERE 1 = 1{skip}", names).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending(self, limit: int = 1000) -> list[Delivery]:
        with self._connection("list Event Grid deliveries") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM eventgrid_deliveries ORDER BY due, seq LIMIT ?", (limit,)
            ).fetchall()
        return [_delivery(row) for row in rows]

    def inbox_size(self) -> int:
        with self._connection("count Event Grid inbox events") as conn:
            return int(conn.execute("SELECT COUNT(*) FROM eventgrid_inbox").fetchone()[0])

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._connection("list Event Grid dead letters") as conn:
            rows = conn.execute(
                "SELECT id, topic, subscription, event, published, attempts, reason, last_error, last_status, dead_at "
                "FROM eventgrid_dead ORDER BY dead_at DESC, id LIMIT ?", (limit,)
            ).fetchall()
        return [DeadLetter(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]), int(r[5]), str(r[6]), str(r[7]),
                           None if r[8] is None else int(r[8]), float(r[9])) for r in rows]
