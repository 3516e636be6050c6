"""Activity work items and entities on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

from overcast.backends.postgresql.database import prefix_upper_bound
from overcast.durable.store import (
    DEFAULT_PAGE_SIZE,
    ActivityWorkItem,
    EntityLease,
    EntityRecord,
    EventDict,
    NewMessage,
    Page,
    is_entity_id,
)
from overcast.durable.store.backends.common import (
    check_hub,
    check_lease_request,
    check_message,
    check_page_size,
    decode_continuation,
    new_token,
    page_of,
    wakes_suspended,
)
from overcast.durable.store.backends.postgresql.base import DurableDatabase
from overcast.errors import StoreError

_ACTIVITY_COLUMNS = "id, instance_id, execution_id, name, task_id, input, dequeue_count"


class WorkTables(DurableDatabase):
    """The ActivityQueue and EntityStore parts of PostgresDurableStore."""

    # -- activities -------------------------------------------------------------------------------------------

    def lease_activities(self, hub: str, owner: str, duration: float, max_items: int = 1) -> list[ActivityWorkItem]:
        check_lease_request(hub, owner, duration, max_items, "activities")
        tokens = [new_token() for _ in range(max_items)]
        with self._connection("lease activities") as conn:
            now = self._clock()
            expires = now + duration
            # One statement: instances claiming at once skip each other's rows instead of waiting for them.
            rows = conn.execute(
                "WITH ready AS (SELECT id, row_number() OVER (ORDER BY visible, id) AS n FROM ("
                "SELECT id, visible FROM durable_activities WHERE hub = %s AND visible <= %s "
                "ORDER BY visible, id LIMIT %s FOR UPDATE SKIP LOCKED) AS picked) "
                "UPDATE durable_activities a SET owner = %s, token = (%s::text[])[ready.n], visible = %s, "
                "dequeue_count = a.dequeue_count + 1 FROM ready WHERE a.id = ready.id "
                f"RETURNING ready.n, {', '.join('a.' + c.strip() for c in _ACTIVITY_COLUMNS.split(','))}, a.token",
                (hub, now, max_items, owner, tokens, expires),
            ).fetchall()
        rows.sort(key=lambda row: row[0])
        return [
            ActivityWorkItem(hub, int(aid), instance_id, execution_id, name, int(task_id), input_, int(count), owner,
                             str(token), expires)
            for _, aid, instance_id, execution_id, name, task_id, input_, count, token in rows
        ]

    def renew_activity(self, item: ActivityWorkItem, duration: float) -> bool:
        check_lease_request(item.hub, item.owner, duration, 1, "activities")
        with self._connection(f"renew activity {item.name!r}") as conn:
            cursor = conn.execute(
                "UPDATE durable_activities SET visible = %s WHERE id = %s AND hub = %s AND token = %s",
                (self._clock() + duration, item.id, item.hub, item.token),
            )
        return cursor.rowcount == 1

    def abandon_activity(self, item: ActivityWorkItem, delay: float = 0.0) -> bool:
        if delay < 0:
            raise StoreError(f"The delay before an abandoned activity runs again cannot be negative (got {delay} s).")
        with self._connection(f"abandon activity {item.name!r}") as conn:
            cursor = conn.execute(
                "UPDATE durable_activities SET visible = %s, owner = '', token = '' WHERE id = %s AND hub = %s "
                "AND token = %s",
                (self._clock() + delay, item.id, item.hub, item.token),
            )
        if cursor.rowcount == 1 and delay == 0:
            self._wake_others(item.hub)
        return cursor.rowcount == 1

    def complete_activities(self, results: Sequence[tuple[ActivityWorkItem, EventDict]]) -> list[bool]:
        checked = []
        for item, result in results:
            message = NewMessage(item.instance_id, result, item.execution_id)
            checked.append((item, message, check_message(message)))
        if not checked:
            return []
        with self._connection(f"complete {len(checked)} activities") as conn, conn.pipeline():
            # One round trip: each result is delivered only if its work item was still this lease's to delete.
            conn.execute("BEGIN")
            now = self._clock()
            cursors = [
                conn.execute(
                    "WITH gone AS (DELETE FROM durable_activities WHERE id = %s AND hub = %s AND token = %s "
                    "RETURNING 1) INSERT INTO durable_inbox (hub, instance_id, is_entity, execution_id, event, "
                    "visible, wakes, created) SELECT %s, %s, %s, %s, %s, %s, %s, %s FROM gone RETURNING id",
                    (item.id, item.hub, item.token, item.hub, message.instance_id,
                     bool(is_entity_id(message.instance_id)), message.execution_id, event,
                     now if message.visible_at is None else message.visible_at,
                     bool(wakes_suspended(message.event)), now),
                )
                for item, message, event in checked
            ]
            conn.execute("COMMIT")
            answers = [cursor.fetchone() is not None for cursor in cursors]
        if any(answers):
            self._wake_others(checked[0][0].hub)
        return answers

    # -- entities ---------------------------------------------------------------------------------------------

    def lease_next_entity(self, hub: str, owner: str, duration: float, max_messages: int = 100) -> EntityLease | None:
        check_lease_request(hub, owner, duration, max_messages, "messages")
        with self._connection("lease an entity") as conn:
            claimed = self._claim(conn, hub, True, owner, duration, 1)
            if not claimed:
                return None
            [(target, token, expires)] = claimed
            with conn.pipeline():
                state = conn.execute(
                    "SELECT state FROM durable_entities WHERE hub = %s AND entity_id = %s", (hub, target))
                messages = self._leased_messages(conn, hub, [target], max_messages)[target]
                row = state.fetchone()
        return EntityLease(hub, target, owner, token, expires, tuple(messages), None if row is None else str(row[0]))

    def commit_entity_batch(
        self, lease: EntityLease, consumed: Sequence[int], state: str | None, messages: Sequence[NewMessage] = ()
    ) -> bool:
        encoded = [(message, check_message(message)) for message in messages]
        key = (lease.hub, lease.instance_id)
        with self._connection(f"commit a batch of entity {lease.instance_id!r}") as conn:
            with conn.pipeline():
                self._lock_hub(conn, lease.hub, shared=True)  # writes only what its lease guards, and new messages
                now = self._clock()
                holds = self._holds(conn, lease)
            if not holds:
                conn.execute("ROLLBACK")
                return False
            with conn.pipeline():
                if state is None:
                    conn.execute("DELETE FROM durable_entities WHERE hub = %s AND entity_id = %s", key)
                else:
                    conn.execute(
                        "INSERT INTO durable_entities (hub, entity_id, state, updated) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (hub, entity_id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                        (*key, state, now),
                    )
                self._deliver_many(conn, lease.hub, encoded, now)
                self._finish(conn, lease, consumed)
                conn.execute("COMMIT")
        if encoded:
            self._wake_others(lease.hub)
        return True

    def get_entity(self, hub: str, entity_id: str) -> EntityRecord | None:
        check_hub(hub)
        with self._connection(f"read entity {entity_id!r}") as conn:
            row = conn.execute(
                "SELECT state, updated FROM durable_entities WHERE hub = %s AND entity_id = %s", (hub, entity_id)
            ).fetchone()
        return None if row is None else EntityRecord(hub, entity_id, str(row[0]), float(row[1]))

    def query_entities(
        self, hub: str, name: str | None = None, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[EntityRecord]:
        check_hub(hub)
        check_page_size(top)
        after = decode_continuation(continuation)
        prefix = "@" if name is None else f"@{name}@"
        upper = prefix_upper_bound(prefix)  # never None: the prefix ends with '@'
        after_clause = "" if after is None else " AND entity_id > %s"
        with self._connection("list entities") as conn:
            rows = conn.execute(
                f"SELECT entity_id, state, updated FROM durable_entities WHERE hub = %s AND entity_id >= %s "
                f"AND entity_id < %s{after_clause} ORDER BY entity_id LIMIT %s",
                (hub, prefix, upper, *(() if after is None else (after,)), top + 1),
            ).fetchall()
        records = [EntityRecord(hub, str(eid), str(state), float(updated)) for eid, state, updated in rows]
        return page_of(records, top, lambda e: e.entity_id)
