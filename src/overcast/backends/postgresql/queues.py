"""PostgresQueueStore: Azure Storage queue semantics on PostgreSQL, shared by instances on many machines.

A receive is one statement: it picks the next visible messages in receive order with ``FOR UPDATE SKIP LOCKED`` (so
instances receiving at once never wait for each other nor get the same message) and hides them for the visibility
timeout with a new pop receipt; a crashed instance's messages come back when that timeout expires. Expired messages
the receive passes over are deleted by the same statement. Every enqueue also sends ``NOTIFY overcast_queue`` with
the queue's name in its transaction, so listeners on other instances wake within milliseconds (see
:mod:`overcast.backends.postgresql.notify`); polling stays the safety net.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from overcast.backends.base import (
    DEFAULT_TTL,
    MAX_RECEIVE,
    Clock,
    QueuedMessage,
    expiry,
    new_message_id,
    new_pop_receipt,
    utc,
)
from overcast.backends.names import (
    check_count,
    check_visibility,
    validate_queue_name,
)
from overcast.backends.postgresql.notify import NotifyingStore
from overcast.backends.store_checks import check_new_message

Conn = psycopg.Connection[Any]
CHANNEL = "overcast_queue"
_COLUMNS = "id, body, dequeue_count, inserted, expires, visible"
# Insert (creating the queue) and notify in one round trip; the notification is delivered at commit.
_ENQUEUE = (
    "WITH q AS (INSERT INTO queues (name) VALUES (%(queue)s) ON CONFLICT DO NOTHING) "
    "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
    "SELECT %(id)s, %(queue)s, %(body)s, 0, %(now)s, %(expires)s, %(visible)s, %(receipt)s "
    f"FROM (SELECT pg_notify('{CHANNEL}', %(queue)s)) AS n"
)
_RECEIVE = (
    "WITH expired AS (DELETE FROM queue_messages WHERE seq IN (SELECT seq FROM queue_messages "
    "WHERE queue = %(queue)s AND visible <= %(now)s AND expires <= %(now)s ORDER BY visible, inserted, seq "
    "LIMIT 32 FOR UPDATE SKIP LOCKED)), "
    "ready AS (SELECT seq, visible AS was FROM queue_messages WHERE queue = %(queue)s AND visible <= %(now)s "
    "AND expires > %(now)s ORDER BY visible, inserted, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "UPDATE queue_messages m SET dequeue_count = m.dequeue_count + 1, visible = %(until)s, "
    "receipt = replace(gen_random_uuid()::text, '-', '') FROM ready WHERE m.seq = ready.seq "
    "RETURNING ready.was, m.seq, m.id, m.body, m.dequeue_count, m.inserted, m.expires, m.visible, m.receipt"
)


def _message(row: Sequence[Any], receipt: str | None) -> QueuedMessage:
    mid, body, count, inserted, expires, visible = row
    return QueuedMessage(str(mid), bytes(body), int(count), utc(inserted), utc(expires), utc(visible), receipt)


class PostgresQueueStore(NotifyingStore):
    """Implements QueueStore and QueueAdmin. One connection and lock per store; open one per process."""

    kind = "queue store"
    channel = CHANNEL

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    @staticmethod
    def _lock_queue(conn: Conn, queue: str) -> None:
        """Begin a transaction holding the queue's advisory lock (for operations that check, then write)."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"overcast.queue:{queue}",))

    @staticmethod
    def _add(conn: Conn, queue: str, body: bytes, now: float, visible: float, expires: float) -> QueuedMessage:
        mid, receipt = new_message_id(), new_pop_receipt()
        conn.execute(_ENQUEUE, {"queue": queue, "id": mid, "body": body, "now": now, "expires": expires,
                                "visible": visible, "receipt": receipt})
        return QueuedMessage(mid, body, 0, utc(now), utc(expires), utc(visible), receipt)

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        check_new_message(queue, body, delay, ttl)
        body = bytes(body)
        with self._connection(f"add a message to queue {queue!r}") as conn:
            now = self._clock()
            return self._add(conn, queue, body, now, now + delay, expiry(now, ttl))

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to receive", max_messages, MAX_RECEIVE)
        check_visibility(visibility_timeout)
        with self._connection(f"receive from queue {queue!r}") as conn:
            now = self._clock()
            rows = conn.execute(_RECEIVE, {"queue": queue, "now": now, "limit": max_messages,
                                           "until": now + visibility_timeout}).fetchall()
        rows.sort(key=lambda row: (row[0], row[5], row[1]))  # RETURNING has no order: the receive order
        return [_message(row[2:8], str(row[8])) for row in rows]

    def delete(self, queue: str, message_id: str, pop_receipt: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"delete a message from queue {queue!r}") as conn:
            cursor = conn.execute(
                "DELETE FROM queue_messages WHERE id = %s AND queue = %s AND receipt = %s AND expires > %s",
                (message_id, queue, pop_receipt, self._clock()),
            )
        return cursor.rowcount == 1

    def delete_many(self, queue: str, claimed: Sequence[tuple[str, str]]) -> list[bool]:
        validate_queue_name(queue)
        if not claimed:
            return []
        with self._connection(f"delete messages from queue {queue!r}") as conn:
            rows = conn.execute(
                "DELETE FROM queue_messages m USING unnest(%s::text[], %s::text[]) AS c(id, receipt) "
                "WHERE m.id = c.id AND m.receipt = c.receipt AND m.queue = %s AND m.expires > %s RETURNING m.id",
                ([mid for mid, _ in claimed], [receipt for _, receipt in claimed], queue, self._clock()),
            ).fetchall()
        deleted = {str(row[0]) for row in rows}
        answers = []
        for message_id, _ in claimed:  # a pair named twice is deleted once: the second answer is False
            answers.append(message_id in deleted)
            deleted.discard(message_id)
        return answers

    def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str | None:
        validate_queue_name(queue)
        check_visibility(visibility_timeout)
        receipt = new_pop_receipt()
        with self._connection(f"update a message of queue {queue!r}") as conn:
            now = self._clock()
            cursor = conn.execute(
                "UPDATE queue_messages SET visible = %s, receipt = %s "
                "WHERE id = %s AND queue = %s AND receipt = %s AND expires > %s",
                (now + visibility_timeout, receipt, message_id, queue, pop_receipt, now),
            )
            if cursor.rowcount == 1 and visibility_timeout == 0:
                self._changed(conn, queue)
        return receipt if cursor.rowcount == 1 else None

    def move(self, queue: str, message_id: str, pop_receipt: str, to_queue: str) -> bool:
        validate_queue_name(queue)
        validate_queue_name(to_queue)
        with self._connection(f"move a message of queue {queue!r} to {to_queue!r}") as conn:
            now = self._clock()
            # One statement, so one transaction: the copy exists exactly when the original is gone.
            cursor = conn.execute(
                "WITH gone AS (DELETE FROM queue_messages WHERE id = %(id)s AND queue = %(queue)s "
                "AND receipt = %(receipt)s AND expires > %(now)s RETURNING body), "
                "q AS (INSERT INTO queues (name) SELECT %(to)s FROM gone ON CONFLICT DO NOTHING) "
                "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
                "SELECT %(new_id)s, %(to)s, gone.body, 0, %(now)s, %(expires)s, %(now)s, %(new_receipt)s "
                f"FROM gone, (SELECT pg_notify('{CHANNEL}', %(to)s)) AS n",
                {"id": message_id, "queue": queue, "receipt": pop_receipt, "now": now, "to": to_queue,
                 "new_id": new_message_id(), "expires": now + DEFAULT_TTL, "new_receipt": new_pop_receipt()},
            )
        return cursor.rowcount == 1

    def list_queues(self) -> dict[str, int]:
        with self._connection("list queues") as conn:
            rows = conn.execute(
                "SELECT q.name, COUNT(m.id) FROM queues q LEFT JOIN queue_messages m ON m.queue = q.name "
                "AND m.expires > %s GROUP BY q.name ORDER BY q.name",
                (self._clock(),),
            ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        validate_queue_name(queue)
        check_count("The number of messages to peek", max_messages)
        with self._connection(f"peek at queue {queue!r}") as conn:
            now = self._clock()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM queue_messages WHERE queue = %s AND visible <= %s AND expires > %s "
                f"ORDER BY visible, inserted, seq LIMIT %s",
                (queue, now, now, max_messages),
            ).fetchall()
        return [_message(row, None) for row in rows]

    def clear(self, queue: str) -> int:
        validate_queue_name(queue)
        with self._connection(f"clear queue {queue!r}") as conn:
            row = conn.execute(
                "WITH d AS (DELETE FROM queue_messages WHERE queue = %s RETURNING expires) "
                "SELECT COUNT(*) FILTER (WHERE expires > %s) FROM d",
                (queue, self._clock()),
            ).fetchone()
        return int(row[0]) if row else 0

    def delete_queue(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"delete queue {queue!r}") as conn:
            self._lock_queue(conn, queue)
            conn.execute("DELETE FROM queue_messages WHERE queue = %s", (queue,))
            existed = conn.execute("DELETE FROM queues WHERE name = %s", (queue,)).rowcount > 0
            conn.execute("COMMIT")
        return existed
