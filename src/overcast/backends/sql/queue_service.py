"""``QueueServiceCore``: the queue store with queues as objects (metadata, listing) for the Queue API, for the SQLite
and PostgreSQL queue services.

It works on the queue store's own tables (``queues``, ``queue_messages``), so a message put through the API is the
message a queue trigger of any instance receives. Metadata lives beside them in ``queue_metadata``; a queue made by
an output binding simply has none. A stale metadata row (its queue deleted by an older writer) is overwritten when
the queue is created again. Operations that check the queue and then write hold the queue's write lock
(``_begin_write``) for their transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from overcast.backends.base import QueuedMessage, expiry, new_pop_receipt, utc
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
from overcast.backends.sql.core import C, SqlStore
from overcast.backends.sql.keyrange import prefix_upper_bound
from overcast.backends.store_checks import check_message_update, check_new_message, queue_metadata


def _metadata(text: str | None) -> dict[str, str]:
    return {} if text is None else dict(json.loads(text))


class QueueServiceCore(SqlStore[C]):
    """Implements QueueServiceStore on top of the backend's queue store (``_add``, ``receive``, ``peek``), on one
    object and connection; the backend supplies ``_begin_write``, ``_begin_snapshot`` and ``delete_queue``."""

    # --- what the backend's queue store and database supply -------------------------------------------------------
    def _add(self, conn: C, queue: str, body: bytes, now: float, visible: float, expires: float) -> QueuedMessage:
        raise NotImplementedError

    def receive(self, queue: str, max_messages: int, visibility_timeout: float) -> list[QueuedMessage]:
        raise NotImplementedError

    def peek(self, queue: str, max_messages: int) -> list[QueuedMessage]:
        raise NotImplementedError

    def _begin_snapshot(self, conn: C) -> None:
        """Begin a read-only transaction that sees one snapshot of the database."""
        raise NotImplementedError

    # --- the Queue API ----------------------------------------------------------------------------------------------
    def _exists(self, conn: C, queue: str) -> bool:
        return conn.execute(self._sql("SELECT 1 FROM queues WHERE name = ?"), (queue,)).fetchone() is not None

    def _set_metadata(self, conn: C, queue: str, metadata: dict[str, str]) -> None:
        conn.execute(
            self._sql("INSERT INTO queue_metadata (name, metadata) VALUES (?, ?) "
                      "ON CONFLICT (name) DO UPDATE SET metadata = excluded.metadata"),
            (queue, json.dumps(metadata)),
        )

    def create_queue(self, queue: str, metadata: Mapping[str, str]) -> CreateOutcome:
        wanted = queue_metadata(queue, metadata)
        with self._connection(f"create queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            if self._exists(conn, queue):
                row = conn.execute(self._sql("SELECT metadata FROM queue_metadata WHERE name = ?"),
                                   (queue,)).fetchone()
                conn.execute("COMMIT")
                same = same_metadata(_metadata(None if row is None else row[0]), wanted)
                return CreateOutcome.EXISTS_SAME if same else CreateOutcome.EXISTS_DIFFERENT
            conn.execute(self._sql("INSERT INTO queues (name) VALUES (?)"), (queue,))
            self._set_metadata(conn, queue, wanted)
            conn.execute("COMMIT")
        return CreateOutcome.CREATED

    def queue_properties(self, queue: str) -> QueueProperties | None:
        validate_queue_name(queue)
        with self._connection(f"read the properties of queue {queue!r}") as conn:
            self._begin_snapshot(conn)  # one snapshot: the count belongs to the queue that was found
            try:
                row = conn.execute(
                    self._sql("SELECT m.metadata FROM queues q LEFT JOIN queue_metadata m ON m.name = q.name "
                              "WHERE q.name = ?"),
                    (queue,),
                ).fetchone()
                if row is None:
                    return None
                found = conn.execute(
                    self._sql("SELECT COUNT(*) FROM queue_messages WHERE queue = ? AND expires > ?"),
                    (queue, self._clock()),
                ).fetchone()
                count = found[0] if found else 0
            finally:
                conn.execute("COMMIT")
        return QueueProperties(frozen_metadata(_metadata(row[0])), int(count))

    def set_queue_metadata(self, queue: str, metadata: Mapping[str, str]) -> bool:
        wanted = queue_metadata(queue, metadata)
        with self._connection(f"set the metadata of queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            if not self._exists(conn, queue):
                conn.execute("ROLLBACK")
                return False
            self._set_metadata(conn, queue, wanted)
            conn.execute("COMMIT")
        return True

    def list_queue_page(self, prefix: str, marker: str, max_results: int) -> tuple[list[QueueInfo], str]:
        check_count("The number of queues to list", max_results, MAX_LIST)
        where, args = "q.name >= ?", [max(prefix, marker)]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where, args = where + " AND q.name < ?", [*args, upper]
        with self._connection("list queues") as conn:
            rows = conn.execute(
                self._sql("SELECT q.name, m.metadata FROM queues q LEFT JOIN queue_metadata m ON m.name = q.name "
                          f"WHERE {where} ORDER BY q.name LIMIT ?"),
                (*args, max_results + 1),
            ).fetchall()
        page = [QueueInfo(str(name), frozen_metadata(_metadata(text))) for name, text in rows[:max_results]]
        return page, str(rows[max_results][0]) if len(rows) > max_results else ""

    def put_message(self, queue: str, body: bytes, visibility_timeout: float,
                    ttl: float | None) -> QueuedMessage | None:
        check_new_message(queue, body, visibility_timeout, ttl)
        with self._connection(f"add a message to queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            if not self._exists(conn, queue):
                conn.execute("ROLLBACK")
                return None
            now = self._clock()
            message = self._add(conn, queue, bytes(body), now, now + visibility_timeout, expiry(now, ttl))
            conn.execute("COMMIT")
        return message

    def _known(self, queue: str) -> bool:
        with self._connection(f"find queue {queue!r}") as conn:
            return self._exists(conn, validate_queue_name(queue))

    # A queue deleted between the check and the operation reads as empty, as it would a moment later.
    def get_messages(self, queue: str, count: int, visibility_timeout: float) -> list[QueuedMessage] | None:
        return self.receive(queue, count, visibility_timeout) if self._known(queue) else None

    def peek_messages(self, queue: str, count: int) -> list[QueuedMessage] | None:
        return self.peek(queue, count) if self._known(queue) else None

    def clear_messages(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"clear queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            found = self._exists(conn, queue)
            conn.execute(self._sql("DELETE FROM queue_messages WHERE queue = ?"), (queue,))
            conn.execute("COMMIT")
        return found

    def _problem(self, conn: C, queue: str, message_id: str, now: float) -> MessageProblem:
        """Why a statement keyed by (id, receipt) touched no row."""
        if not self._exists(conn, queue):
            return MessageProblem.QUEUE_NOT_FOUND
        found = conn.execute(
            self._sql("SELECT 1 FROM queue_messages WHERE id = ? AND queue = ? AND expires > ?"),
            (message_id, queue, now),
        ).fetchone()
        return MessageProblem.MESSAGE_NOT_FOUND if found is None else MessageProblem.POP_RECEIPT_MISMATCH

    def update_message(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float,
                       body: bytes | None = None) -> UpdatedMessage | MessageProblem:
        check_message_update(queue, visibility_timeout, body)
        receipt = new_pop_receipt()
        with self._connection(f"update a message of queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            now = self._clock()
            visible = now + visibility_timeout
            where = "WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?"
            if body is None:
                update = f"UPDATE queue_messages SET visible = ?, receipt = ? {where}"
                cursor = conn.execute(self._sql(update), (visible, receipt, message_id, queue, pop_receipt, now))
            else:
                update = f"UPDATE queue_messages SET visible = ?, receipt = ?, body = ? {where}"
                cursor = conn.execute(self._sql(update),
                                      (visible, receipt, bytes(body), message_id, queue, pop_receipt, now))
            result: UpdatedMessage | MessageProblem = (
                UpdatedMessage(receipt, utc(visible)) if cursor.rowcount == 1
                else self._problem(conn, queue, message_id, now)
            )
            conn.execute("COMMIT")
        return result

    def delete_message(self, queue: str, message_id: str, pop_receipt: str) -> MessageProblem | None:
        validate_queue_name(queue)
        with self._connection(f"delete a message from queue {queue!r}") as conn:
            self._begin_write(conn, queue)
            now = self._clock()
            cursor = conn.execute(
                self._sql("DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ? AND expires > ?"),
                (message_id, queue, pop_receipt, now),
            )
            problem = None if cursor.rowcount == 1 else self._problem(conn, queue, message_id, now)
            conn.execute("COMMIT")
        return problem
