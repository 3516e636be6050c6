"""Instance management on PostgreSQL: create (with the id rule of §7.2), read, list in pages, purge."""

from __future__ import annotations

from typing import Any

from overcast.backends.postgresql.database import prefix_upper_bound
from overcast.durable.store import DEFAULT_PAGE_SIZE, EventDict, InstanceQuery, InstanceRecord, NewOrchestration, Page
from overcast.durable.store.backends.common import (
    check_hub,
    check_new_orchestration,
    check_page_size,
    check_query,
    decode_continuation,
    encode_event,
    page_of,
)
from overcast.durable.store.backends.postgresql.base import INSTANCE_COLUMNS, DurableDatabase, instance_record


def _where(hub: str, query: InstanceQuery, after: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) selecting the instances ``query`` matches, after the id ``after``."""
    clauses: list[str] = ["hub = %s"]
    params: list[Any] = [hub]
    if after is not None:
        clauses.append("instance_id > %s")
        params.append(after)
    if query.instance_id_prefix:
        # A range on the primary key, not LIKE: the prefix is literal and the index serves it.
        clauses.append("instance_id >= %s")
        params.append(query.instance_id_prefix)
        upper = prefix_upper_bound(query.instance_id_prefix)
        if upper is not None:
            clauses.append("instance_id < %s")
            params.append(upper)
    if query.runtime_statuses:
        statuses = sorted(set(query.runtime_statuses))
        clauses.append(f"status IN ({', '.join(['%s'] * len(statuses))})")
        params.extend(statuses)
    if query.created_from is not None:
        clauses.append("created >= %s")
        params.append(query.created_from)
    if query.created_to is not None:
        clauses.append("created <= %s")
        params.append(query.created_to)
    if query.name is not None:
        clauses.append("name = %s")
        params.append(query.name)
    return " AND ".join(clauses), params


class InstanceTables(DurableDatabase):
    """The InstanceStore part of PostgresDurableStore."""

    def create_instance(self, hub: str, start: NewOrchestration) -> tuple[bool, InstanceRecord]:
        check_hub(hub)
        check_new_orchestration(start)
        started = encode_event(start.started)
        with self._connection(f"create instance {start.instance_id!r}") as conn:
            self._lock_hub(conn, hub)
            result = self._create(conn, hub, start, started, self._clock())
            conn.execute("COMMIT")
        if result[0]:
            self._wake_others(hub)
        return result

    def get_instance(self, hub: str, instance_id: str) -> InstanceRecord | None:
        check_hub(hub)
        with self._connection(f"read instance {instance_id!r}") as conn:
            return self._instance(conn, hub, instance_id)

    def get_history(self, hub: str, instance_id: str) -> list[EventDict]:
        check_hub(hub)
        with self._connection(f"read the history of instance {instance_id!r}") as conn:
            return self._history(conn, hub, instance_id)

    def query_instances(
        self, hub: str, query: InstanceQuery, top: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[InstanceRecord]:
        check_query(hub, query)
        check_page_size(top)
        where, params = _where(hub, query, decode_continuation(continuation))
        with self._connection("list instances") as conn:
            rows = conn.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM durable_instances WHERE {where} "
                f"ORDER BY instance_id LIMIT %s",
                (*params, top + 1),
            ).fetchall()
        return page_of([instance_record(row) for row in rows], top, lambda r: r.instance_id)

    def purge_instance(self, hub: str, instance_id: str) -> bool:
        check_hub(hub)
        with self._connection(f"purge instance {instance_id!r}") as conn:
            self._lock_hub(conn, hub)
            existed = self._instance(conn, hub, instance_id) is not None
            if existed:
                self._drop(conn, hub, [instance_id], lease=True)
            conn.execute("COMMIT")
        return existed

    def purge_instances(self, hub: str, query: InstanceQuery) -> int:
        check_query(hub, query)
        where, params = _where(hub, query, None)
        with self._connection("purge instances") as conn:
            self._lock_hub(conn, hub)
            doomed = [
                str(r[0])
                for r in conn.execute(
                    f"SELECT instance_id FROM durable_instances WHERE {where}", params
                )
            ]
            self._drop(conn, hub, doomed, lease=True)
            conn.execute("COMMIT")
        return len(doomed)
