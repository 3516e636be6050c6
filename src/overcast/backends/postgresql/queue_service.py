"""PostgresQueueService: the PostgreSQL queue store with queues as objects (metadata, listing) for the Queue API; the
statements are the shared :class:`~overcast.backends.sql.queue_service.QueueServiceCore`'s. Operations that check
the queue and then write take a transaction advisory lock on the queue's name (what SQLite's write lock gives its
store). The table is schema version 3.
"""

from __future__ import annotations

from overcast.backends.names import validate_queue_name
from overcast.backends.postgresql.queues import Conn, PostgresQueueStore
from overcast.backends.sql.queue_service import QueueServiceCore


class PostgresQueueService(PostgresQueueStore, QueueServiceCore[Conn]):
    """Implements QueueServiceStore and QueueBackend on one object (and connection)."""

    placeholder = "%s"

    def _begin_write(self, conn: Conn, name: str) -> None:
        self._lock_queue(conn, name)

    def _begin_snapshot(self, conn: Conn) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def delete_queue(self, queue: str) -> bool:
        validate_queue_name(queue)
        with self._connection(f"delete queue {queue!r}") as conn:
            self._lock_queue(conn, queue)
            conn.execute("DELETE FROM queue_metadata WHERE name = %s", (queue,))
            conn.execute("DELETE FROM queue_messages WHERE queue = %s", (queue,))
            existed = conn.execute("DELETE FROM queues WHERE name = %s", (queue,)).rowcount > 0
            conn.execute("COMMIT")
        return existed
