"""``ServiceBusEntityCore``: Service Bus entities and their messages outside of locks (declare, send, list, peek,
purge, resubmit), for the SQLite and PostgreSQL Service Bus stores.

Entities live in ``sb_entities`` (each with the next sequence number it gives), messages in ``sb_messages`` keyed by
(entity, seq), duplicate detection's history in ``sb_seen``. Sends and entity changes take the one Service Bus write
lock (``_begin_write`` on :data:`SERVICEBUS_LOCK`) for their transaction: a send to a topic writes each of its
subscriptions, so a lock per entity would not keep two senders apart. The peek-lock side (``servicebus.py``) takes
:func:`entity_lock` instead: it only ever changes one entity's rows, and a send only inserts rows it cannot see yet
(sequence numbers come from the entity row's ``UPDATE ... RETURNING``, which the database serializes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from overcast.backends.servicebus_store import (
    DEAD_LETTER_SUFFIX,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    BusMessage,
    Entity,
    EntityCounts,
    EntityKind,
    EntityProperties,
    OutgoingMessage,
    decode_message,
    decode_properties,
    decode_rules,
    encode_message,
    encode_properties,
    encode_rules,
    expires_at,
    new_message_id,
    normalize,
    route,
    split_dead_letter,
    topic_of,
)
from overcast.backends.sql.core import C, SqlStore
from overcast.errors import StoreError

SERVICEBUS_LOCK = "overcast.servicebus"  # the write lock of sends and entity changes


def entity_lock(path: str) -> str:
    """The write lock of one entity's peek-lock side (receive, settle, renew, sessions), its dead-letter queue
    included: receives from two entities need not wait for each other. A backend without named locks (SQLite's
    BEGIN IMMEDIATE) serializes everything anyway."""
    return f"{SERVICEBUS_LOCK}:{split_dead_letter(path)[0]}"
COLUMNS = ("seq, dead, available, expires, deliveries, token, locked_until, enqueued, body, properties, reason, "
           "description, source")


def view(path: str, row: Sequence[Any], now: float) -> BusMessage:
    """The message of a ``sb_messages`` row read as :data:`COLUMNS`, at ``now`` (a lock that ran out is not shown)."""
    seq, dead, available, expires, deliveries, token, locked_until, enqueued, body, props, reason, desc, src = row
    held = token is not None and locked_until is not None and locked_until > now
    state: Literal["active", "scheduled", "deadlettered"] = (
        "deadlettered" if dead else "scheduled" if available > now else "active")
    return BusMessage(path + (DEAD_LETTER_SUFFIX if dead else ""), int(seq), decode_message(props, bytes(body)),
                      float(enqueued), expires, int(deliveries), state, token if held else None,
                      locked_until if held else None, reason, desc, src)


class ServiceBusEntityCore(SqlStore[C]):
    """Implements the entity and sending side of ServiceBusBackend (and ServiceBusAdmin but ``close``); the backend
    supplies ``_begin_write`` and, where other instances hear of writes, ``_changed``."""

    def _changed(self, conn: C, name: str) -> None:
        """Report a write under ``name`` (an entity path) to other instances, in the transaction; nothing by default:
        a store whose instances poll has no one to tell."""

    # -- entities -----------------------------------------------------------------------------------------------

    def _load(self, conn: C, path: str) -> Entity | None:
        row = conn.execute(self._sql("SELECT kind, properties, rules FROM sb_entities WHERE path = ?"),
                           (path,)).fetchone()
        if row is None:
            return None
        return Entity(path, row[0], decode_properties(row[1]), decode_rules(row[2]))

    def _ensure(self, conn: C, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        found = self._load(conn, path)
        if found is not None:
            return found
        if kind == SUBSCRIPTION and topic_of(path) is not None:
            self._ensure(conn, str(topic_of(path)), TOPIC)
        entity = Entity(path, kind, EntityProperties(requires_session=requires_session))
        conn.execute(self._sql("INSERT INTO sb_entities (path, kind, properties, rules, next_seq) "
                               "VALUES (?, ?, ?, ?, 1)"),
                     (path, kind, encode_properties(entity.properties), encode_rules(entity.rules)))
        return entity

    def declare(self, entities: Sequence[Entity]) -> None:
        with self._connection("declare Service Bus entities") as conn:
            self._begin_write(conn, SERVICEBUS_LOCK)
            for entity in entities:
                path = normalize(entity.path)
                self._ensure(conn, path, entity.kind)
                conn.execute(self._sql("UPDATE sb_entities SET kind = ?, properties = ?, rules = ? WHERE path = ?"),
                             (entity.kind, encode_properties(entity.properties), encode_rules(entity.rules), path))
            conn.execute("COMMIT")

    def ensure(self, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        path = normalize(path)
        with self._connection(f"create Service Bus entity {path!r}") as conn:
            found = self._load(conn, path)
            if found is not None:
                return found
            self._begin_write(conn, SERVICEBUS_LOCK)
            entity = self._ensure(conn, path, kind, requires_session)
            conn.execute("COMMIT")
            return entity

    # -- sending ------------------------------------------------------------------------------------------------

    def _append(self, conn: C, entity: Entity, message: OutgoingMessage, now: float) -> int:
        row = conn.execute(
            self._sql("UPDATE sb_entities SET next_seq = next_seq + 1 WHERE path = ? RETURNING next_seq - 1"),
            (entity.path,)).fetchone()
        assert row is not None  # the entity was ensured in this transaction
        seq = int(row[0])
        available = max(now, message.scheduled_enqueue_time or now)
        conn.execute(
            self._sql("INSERT INTO sb_messages (entity, seq, dead, session_id, available, expires, deliveries, "
                      "enqueued, body, properties) VALUES (?, ?, 0, ?, ?, ?, 0, ?, ?, ?)"),
            (entity.path, seq, message.session_id, available, expires_at(message, available, entity.properties),
             available, message.body, encode_message(message)))
        return seq

    def _duplicate(self, conn: C, entity: Entity, message_id: str, now: float) -> bool:
        window = entity.properties.duplicate_window
        if window is None:
            return False
        conn.execute(self._sql("DELETE FROM sb_seen WHERE entity = ? AND seen <= ?"), (entity.path, now - window))
        inserted = conn.execute(self._sql("INSERT INTO sb_seen (entity, message_id, seen) VALUES (?, ?, ?) "
                                          "ON CONFLICT DO NOTHING"), (entity.path, message_id, now)).rowcount
        return inserted == 0

    def send(self, path: str, messages: Sequence[OutgoingMessage]) -> list[int]:
        path, dead = split_dead_letter(path)
        if dead:
            raise StoreError(f"Cannot send to the dead-letter queue of '{path}'; send to '{path}' itself.")
        with self._connection(f"send to {path!r}") as conn:
            self._begin_write(conn, SERVICEBUS_LOCK)
            now = self._clock()
            entity = self._ensure(conn, path, QUEUE)
            subscriptions: list[Entity] = []
            if entity.kind == TOPIC:
                prefix = f"{path}/subscriptions/"
                rows = conn.execute(self._sql("SELECT path FROM sb_entities WHERE kind = 'subscription' AND path >= ? "
                                              "AND path < ? ORDER BY path"), (prefix, prefix[:-1] + "0")).fetchall()
                subscriptions = [e for (p,) in rows if (e := self._load(conn, p)) is not None]
            numbers = []
            for message in messages:
                if message.message_id is None:
                    message = replace(message, message_id=new_message_id())
                if self._duplicate(conn, entity, str(message.message_id), now):
                    numbers.append(0)
                elif entity.kind == TOPIC:
                    for sub in subscriptions:
                        for copy in route(sub.rules, message):
                            self._append(conn, sub, copy, now)
                    numbers.append(0)
                else:
                    numbers.append(self._append(conn, entity, message, now))
            self._changed(conn, path)  # a topic's subscriptions' listeners wait on the topic's name
            conn.execute("COMMIT")
        return numbers

    # -- admin --------------------------------------------------------------------------------------------------

    def entities(self) -> list[EntityCounts]:
        with self._connection("list Service Bus entities") as conn:
            now = self._clock()
            counts = {
                str(path): (int(active), int(dead), int(scheduled))
                for path, active, dead, scheduled in conn.execute(
                    self._sql("SELECT entity, SUM(CASE WHEN dead = 0 AND available <= ? THEN 1 ELSE 0 END), "
                              "SUM(dead), SUM(CASE WHEN dead = 0 AND available > ? THEN 1 ELSE 0 END) "
                              "FROM sb_messages WHERE dead = 1 OR expires IS NULL OR expires > ? GROUP BY entity"),
                    (now, now, now))
            }
            rows = conn.execute("SELECT path, kind, properties FROM sb_entities ORDER BY path").fetchall()
        return [EntityCounts(str(p), k, *counts.get(str(p), (0, 0, 0)), decode_properties(props))
                for p, k, props in rows]

    def peek(self, path: str, max_messages: int, from_sequence: int = 0) -> list[BusMessage]:
        base, dead = split_dead_letter(path)
        with self._connection(f"peek {path!r}") as conn:
            now = self._clock()
            rows = conn.execute(
                self._sql(f"SELECT {COLUMNS} FROM sb_messages WHERE entity = ? AND dead = ? AND seq >= ? AND "
                          "(dead = 1 OR expires IS NULL OR expires > ?) ORDER BY seq LIMIT ?"),
                (base, int(dead), from_sequence, now, max_messages)).fetchall()
        return [view(base, row, now) for row in rows]

    def purge(self, path: str) -> int:
        base, dead = split_dead_letter(path)
        with self._connection(f"purge {path!r}") as conn:
            return int(conn.execute(self._sql("DELETE FROM sb_messages WHERE entity = ? AND dead = ?"),
                                    (base, int(dead))).rowcount)

    def resubmit(self, path: str, sequence_numbers: Sequence[int] | None = None) -> int:
        base, _ = split_dead_letter(path)
        with self._connection(f"resubmit dead-lettered messages of {path!r}") as conn:
            self._begin_write(conn, SERVICEBUS_LOCK)
            now = self._clock()
            entity = self._load(conn, base)
            rows = conn.execute(self._sql("SELECT seq, body, properties FROM sb_messages WHERE entity = ? "
                                          "AND dead = 1 ORDER BY seq"), (base,)).fetchall()
            chosen = [r for r in rows if sequence_numbers is None or r[0] in sequence_numbers]
            if entity is not None:
                for seq, body, props in chosen:
                    conn.execute(self._sql("DELETE FROM sb_messages WHERE entity = ? AND seq = ?"), (base, seq))
                    message = replace(decode_message(props, bytes(body)), scheduled_enqueue_time=None)
                    self._append(conn, entity, message, now)
                if chosen:
                    self._changed(conn, base)
            conn.execute("COMMIT")
        return len(chosen) if entity is not None else 0
