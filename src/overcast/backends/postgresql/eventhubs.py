"""PostgresEventHubsStore: event hubs on PostgreSQL, shared by instances on many machines.

The same tables and statements as the SQLite store (schema version 4 of :mod:`overcast.backends.postgresql.schema`);
a send holds its hub's row lock (``SELECT ... FOR UPDATE``) for its transaction, where SQLite holds the database's
write lock, so sequence numbers stay gap-free and ordered across instances.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from overcast.backends.base import Clock, utc
from overcast.backends.eventhubs_store import (
    DEFAULT_RETENTION,
    Checkpoint,
    EventData,
    HubInfo,
    Ownership,
    PartitionInfo,
    StoredEvent,
    check_group,
    check_partition,
    check_partition_count,
    encode_properties,
    group_list,
    hub_key,
    sorted_groups,
    target_partition,
)
from overcast.backends.names import check_text
from overcast.backends.postgresql.notify import NotifyingStore
from overcast.errors import StoreError

_EVENT_COLUMNS = "part, seq, off, enqueued, body, props, pkey"
_FIRST_RETAINED = "SELECT seq FROM eh_events WHERE hub = %s AND part = %s AND enqueued > %s ORDER BY seq LIMIT 1"
EXPIRE_STEP = 1000  # expired events deleted per send at most: a send's cost stays bounded


def _event(row: Any) -> StoredEvent:
    import json

    part, seq, off, enqueued, body, props, pkey = row
    return StoredEvent(str(part), int(seq), str(off), utc(float(enqueued)), bytes(body), json.loads(props),
                       None if pkey is None else str(pkey))


def _row(cursor: Any) -> Any:
    """The row of a statement that always returns one (an aggregate, a row read under a lock)."""
    row = cursor.fetchone()
    if row is None:
        raise StoreError("PostgreSQL event hubs store: a row vanished during a read; retry.")
    return row


def _partition_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


class PostgresEventHubsStore(NotifyingStore):
    """Implements EventHubsStore."""

    kind = "event hubs store"
    channel = "overcast_eventhubs"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def _info(self, conn: Any, key: str) -> HubInfo | None:
        row = conn.execute("SELECT name, partitions, retention, created FROM eh_hubs WHERE hub = %s", (key,)).fetchone()
        if row is None:
            return None
        groups = [str(g) for (g,) in conn.execute("SELECT name FROM eh_groups WHERE hub = %s", (key,)).fetchall()]
        return HubInfo(str(row[0]), int(row[1]), sorted_groups(groups), float(row[2]), utc(float(row[3])))

    def _existing(self, conn: Any, hub: str) -> tuple[str, HubInfo]:
        key = hub_key(hub)
        info = self._info(conn, key)
        if info is None:
            raise StoreError(f"Event hub '{hub}' does not exist.")
        return key, info

    @staticmethod
    def _expire(conn: Any, key: str, index: int, horizon: float) -> None:
        """Delete a partition's expired events: a prefix of its log (enqueued times grow with sequence numbers),
        at most ``EXPIRE_STEP`` per send, found on the primary key; nothing is read when the oldest is current."""
        oldest = conn.execute(
            "SELECT seq, enqueued FROM eh_events WHERE hub = %s AND part = %s ORDER BY seq LIMIT 1", (key, index),
        ).fetchone()
        if oldest is not None and float(oldest[1]) <= horizon:
            conn.execute("DELETE FROM eh_events WHERE hub = %s AND part = %s AND seq < %s AND enqueued <= %s",
                         (key, index, int(oldest[0]) + EXPIRE_STEP, horizon))

    def ensure_hub(self, hub: str, partition_count: int, consumer_groups: Sequence[str] = (),
                   retention: float = DEFAULT_RETENTION) -> HubInfo:
        key = hub_key(hub)
        check_partition_count(partition_count)
        groups = group_list(consumer_groups)
        if retention <= 0:
            raise StoreError(f"Event hub '{hub}': retention must be positive, got {retention!r}.")
        with self._connection(f"create event hub {hub!r}") as conn:
            info = self._info(conn, key)
            if info is not None and {g.lower() for g in info.consumer_groups} >= {g.lower() for g in groups}:
                return info  # the common case (every start, every first use): no write lock taken
            conn.execute("BEGIN")
            created = conn.execute(
                "INSERT INTO eh_hubs (hub, name, partitions, retention, created) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (hub) DO NOTHING", (key, hub, partition_count, retention, self._clock()),
            ).rowcount == 1
            if created:
                conn.cursor().executemany(
                    "INSERT INTO eh_partitions (hub, part, next_seq, next_offset) VALUES (%s, %s, 0, 0)",
                    [(key, n) for n in range(partition_count)],
                )
            conn.cursor().executemany(
                "INSERT INTO eh_groups (hub, grp, name) VALUES (%s, %s, %s) ON CONFLICT (hub, grp) DO NOTHING",
                [(key, g.lower(), g) for g in groups],
            )
            info = self._info(conn, key)
            conn.execute("COMMIT")
        assert info is not None
        return info

    def hub(self, hub: str) -> HubInfo | None:
        key = hub_key(hub)
        with self._connection(f"read event hub {hub!r}") as conn:
            return self._info(conn, key)

    def hubs(self) -> list[HubInfo]:
        with self._connection("list event hubs") as conn:
            keys = [str(k) for (k,) in conn.execute("SELECT hub FROM eh_hubs ORDER BY hub").fetchall()]
            return [info for key in keys if (info := self._info(conn, key)) is not None]

    def send(self, hub: str, events: Sequence[EventData], partition_id: str | None = None) -> list[StoredEvent]:
        encoded = [encode_properties(e.properties) for e in events]
        with self._connection(f"send to event hub {hub!r}") as conn:
            conn.execute("BEGIN")
            key, info = self._existing(conn, hub)
            now = self._clock()
            # The hub's row lock serialises its sends across instances: sequence numbers stay gap-free and ordered.
            (round_robin,) = _row(conn.execute("SELECT round_robin FROM eh_hubs WHERE hub = %s FOR UPDATE",
                                          (key,)))
            targets = target_partition(info, events, partition_id, int(round_robin))
            if partition_id is None and any(e.partition_key is None for e in events):
                conn.execute("UPDATE eh_hubs SET round_robin = round_robin + 1 WHERE hub = %s", (key,))
            positions: dict[int, list[int]] = {}
            for index in sorted(set(targets)):
                row = _row(conn.execute("SELECT next_seq, next_offset FROM eh_partitions WHERE hub = %s AND part = %s",
                                   (key, index)))
                positions[index] = [int(row[0]), int(row[1])]
            stored, rows = [], []
            for event, index, props in zip(events, targets, encoded, strict=True):
                seq, offset = positions[index]
                body = bytes(event.body)
                rows.append((key, index, seq, offset, now, event.partition_key, props, body))
                stored.append(StoredEvent(str(index), seq, str(offset), utc(now), body, dict(event.properties),
                                          event.partition_key))
                positions[index] = [seq + 1, offset + len(body) + len(props)]
            conn.cursor().executemany("INSERT INTO eh_events (hub, part, seq, off, enqueued, pkey, props, body) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
            for index, (seq, offset) in positions.items():
                conn.execute("UPDATE eh_partitions SET next_seq = %s, next_offset = %s WHERE hub = %s AND part = %s",
                             (seq, offset, key, index))
                self._expire(conn, key, index, now - info.retention)
            for index in positions:
                self._changed(conn, f"{key}/{index}")
            conn.execute("COMMIT")
        return stored

    def read(self, hub: str, partition: str, from_sequence: int, max_events: int) -> list[StoredEvent]:
        if max_events <= 0:
            return []
        with self._connection(f"read event hub {hub!r}") as conn:
            key, info = self._existing(conn, hub)
            index = check_partition(info, partition)
            rows = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM eh_events WHERE hub = %s AND part = %s AND seq >= %s AND enqueued > %s "
                "ORDER BY seq LIMIT %s", (key, index, from_sequence, self._clock() - info.retention, max_events),
            ).fetchall()
        return [_event(row) for row in rows]

    def partitions(self, hub: str) -> list[PartitionInfo]:
        with self._connection(f"read event hub {hub!r}") as conn:
            key, info = self._existing(conn, hub)
            horizon = self._clock() - info.retention
            result = []
            for index, next_seq in conn.execute(
                    "SELECT part, next_seq FROM eh_partitions WHERE hub = %s ORDER BY part", (key,)).fetchall():
                found = conn.execute(_FIRST_RETAINED, (key, index, horizon)).fetchone()
                first = None if found is None else found[0]
                last = conn.execute("SELECT off, enqueued FROM eh_events WHERE hub = %s AND part = %s AND seq = %s "
                                    "AND enqueued > %s", (key, index, int(next_seq) - 1, horizon)).fetchone()
                result.append(PartitionInfo(
                    str(index), int(next_seq) if first is None else int(first), int(next_seq) - 1,
                    str(last[0]) if last else "-1", utc(float(last[1])) if last else None,
                ))
        return result

    def sequence_at(self, hub: str, partition: str, enqueued_after: float) -> int:
        with self._connection(f"read event hub {hub!r}") as conn:
            key, info = self._existing(conn, hub)
            index = check_partition(info, partition)
            horizon = max(enqueued_after, self._clock() - info.retention)
            row = conn.execute(_FIRST_RETAINED, (key, index, horizon)).fetchone()
            if row is not None:
                return int(row[0])
            (next_seq,) = _row(conn.execute("SELECT next_seq FROM eh_partitions WHERE hub = %s AND part = %s",
                                       (key, index)))
        return int(next_seq)

    def set_checkpoint(self, hub: str, group: str, partition: str, sequence_number: int, offset: str) -> None:
        key, grp = hub_key(hub), check_group(group)
        check_text("Partition id", partition)
        with self._connection(f"checkpoint event hub {hub!r}") as conn:
            conn.execute(
                "INSERT INTO eh_checkpoints (hub, grp, part, seq, off, updated) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (hub, grp, part) DO UPDATE SET seq = excluded.seq, off = excluded.off, "
                "updated = excluded.updated", (key, grp, partition, sequence_number, offset, self._clock()),
            )

    def checkpoints(self, hub: str, group: str) -> dict[str, Checkpoint]:
        key, grp = hub_key(hub), check_group(group)
        with self._connection(f"read checkpoints of event hub {hub!r}") as conn:
            rows = conn.execute("SELECT part, seq, off, updated FROM eh_checkpoints WHERE hub = %s AND grp = %s",
                                (key, grp)).fetchall()
        found = {str(p): Checkpoint(str(p), int(s), str(o), utc(float(u))) for p, s, o, u in rows}
        return dict(sorted(found.items(), key=lambda kv: _partition_order(kv[0])))

    def claim(self, hub: str, group: str, partition: str, owner: str, duration: float,
              steal_from: str | None = None) -> bool:
        key, grp = hub_key(hub), check_group(group)
        check_text("Owner", owner)
        with self._connection(f"claim a partition of event hub {hub!r}") as conn:
            now = self._clock()
            # One statement, so atomic across processes: insert, or take over when free, ours, or the victim's.
            cursor = conn.execute(
                "INSERT INTO eh_ownership (hub, grp, part, owner, expires) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (hub, grp, part) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
                "WHERE eh_ownership.owner = excluded.owner OR eh_ownership.expires <= %s OR eh_ownership.owner = %s",
                (key, grp, partition, owner, now + duration, now, steal_from or owner),
            )
        return cursor.rowcount == 1

    def release(self, hub: str, group: str, partition: str, owner: str) -> None:
        key, grp = hub_key(hub), check_group(group)
        with self._connection(f"release a partition of event hub {hub!r}") as conn:
            conn.execute("DELETE FROM eh_ownership WHERE hub = %s AND grp = %s AND part = %s AND owner = %s",
                         (key, grp, partition, owner))

    def ownership(self, hub: str, group: str) -> list[Ownership]:
        key, grp = hub_key(hub), check_group(group)
        with self._connection(f"read ownership of event hub {hub!r}") as conn:
            now = self._clock()
            rows = conn.execute("SELECT part, owner, expires FROM eh_ownership WHERE hub = %s AND grp = %s",
                                (key, grp)).fetchall()
        rows.sort(key=lambda r: _partition_order(str(r[0])))
        return [Ownership(str(p), str(o), utc(float(e)), float(e) <= now) for p, o, e in rows]
