"""PostgresServiceBusStore: Service Bus entities and messages on PostgreSQL, shared by instances on many machines.

Every receive and settlement is one transaction holding the Service Bus advisory lock (the same guarantee as the
SQLite store's ``BEGIN IMMEDIATE``), so two instances never lock the same message or session; reads and the idle
probe run without it. The tables are created by :mod:`overcast.backends.postgresql.schema` (version 2). The index
``(entity, dead, seq)`` is the receive order; a receive reads rows in that order and stops as soon as its batch is
full, expiring or dead-lettering the rows it passes over (as the broker does lazily).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import psycopg

from overcast.backends.base import Clock
from overcast.backends.postgresql.notify import NotifyingStore
from overcast.backends.servicebus_store import (
    DEAD_LETTER_SUFFIX,
    EXPIRED_DESCRIPTION,
    EXPIRED_REASON,
    MAX_DELIVERY_REASON,
    MAX_RECEIVE,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    BusMessage,
    Entity,
    EntityCounts,
    EntityKind,
    EntityProperties,
    OutgoingMessage,
    SessionLock,
    decode_message,
    decode_properties,
    decode_rules,
    encode_message,
    encode_properties,
    encode_rules,
    expires_at,
    max_delivery_description,
    new_lock_token,
    new_message_id,
    normalize,
    route,
    split_dead_letter,
    topic_of,
)
from overcast.errors import StoreError

Conn = psycopg.Connection[Any]
_COLUMNS = ("seq, dead, available, expires, deliveries, token, locked_until, enqueued, body, properties, reason, "
            "description, source")


def _view(path: str, row: Sequence[Any], now: float) -> BusMessage:
    seq, dead, available, expires, deliveries, token, locked_until, enqueued, body, props, reason, desc, src = row
    held = token is not None and locked_until is not None and locked_until > now
    state: Literal["active", "scheduled", "deadlettered"] = (
        "deadlettered" if dead else "scheduled" if available > now else "active")
    return BusMessage(path + (DEAD_LETTER_SUFFIX if dead else ""), int(seq), decode_message(props, bytes(body)),
                      float(enqueued), expires, int(deliveries), state, token if held else None,
                      locked_until if held else None, reason, desc, src)


class PostgresServiceBusStore(NotifyingStore):
    """Implements ServiceBusBackend. One connection and lock per store; open one per process."""

    kind = "Service Bus store"
    channel = "overcast_servicebus"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    @staticmethod
    def _begin(conn: Conn) -> None:
        """A transaction holding the Service Bus lock: writers run one at a time, as SQLite's BEGIN IMMEDIATE."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('overcast.servicebus'))")

    # -- entities -----------------------------------------------------------------------------------------------

    @staticmethod
    def _load(conn: Conn, path: str) -> Entity | None:
        row = conn.execute("SELECT kind, properties, rules FROM sb_entities WHERE path = %s", (path,)).fetchone()
        if row is None:
            return None
        return Entity(path, row[0], decode_properties(row[1]), decode_rules(row[2]))

    def _ensure(self, conn: Conn, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        found = self._load(conn, path)
        if found is not None:
            return found
        if kind == SUBSCRIPTION and topic_of(path) is not None:
            self._ensure(conn, str(topic_of(path)), TOPIC)
        entity = Entity(path, kind, EntityProperties(requires_session=requires_session))
        conn.execute("INSERT INTO sb_entities (path, kind, properties, rules, next_seq) VALUES (%s, %s, %s, %s, 1)",
                     (path, kind, encode_properties(entity.properties), encode_rules(entity.rules)))
        return entity

    def declare(self, entities: Sequence[Entity]) -> None:
        with self._connection("declare Service Bus entities") as conn:
            self._begin(conn)
            for entity in entities:
                path = normalize(entity.path)
                self._ensure(conn, path, entity.kind)
                conn.execute("UPDATE sb_entities SET kind = %s, properties = %s, rules = %s WHERE path = %s",
                             (entity.kind, encode_properties(entity.properties), encode_rules(entity.rules), path))
            conn.execute("COMMIT")

    def ensure(self, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        path = normalize(path)
        with self._connection(f"create Service Bus entity {path!r}") as conn:
            found = self._load(conn, path)
            if found is not None:
                return found
            self._begin(conn)
            entity = self._ensure(conn, path, kind, requires_session)
            conn.execute("COMMIT")
            return entity

    # -- sending ------------------------------------------------------------------------------------------------

    def _append(self, conn: Conn, entity: Entity, message: OutgoingMessage, now: float) -> int:
        row = conn.execute("UPDATE sb_entities SET next_seq = next_seq + 1 WHERE path = %s RETURNING next_seq - 1",
                           (entity.path,)).fetchone()
        assert row is not None  # the entity was ensured in this transaction
        seq = int(row[0])
        available = max(now, message.scheduled_enqueue_time or now)
        conn.execute(
            "INSERT INTO sb_messages (entity, seq, dead, session_id, available, expires, deliveries, enqueued, body, "
            "properties) VALUES (%s, %s, 0, %s, %s, %s, 0, %s, %s, %s)",
            (entity.path, seq, message.session_id, available, expires_at(message, available, entity.properties),
             available, message.body, encode_message(message)))
        return seq

    def _duplicate(self, conn: Conn, entity: Entity, message_id: str, now: float) -> bool:
        window = entity.properties.duplicate_window
        if window is None:
            return False
        conn.execute("DELETE FROM sb_seen WHERE entity = %s AND seen <= %s", (entity.path, now - window))
        inserted = conn.execute("INSERT INTO sb_seen (entity, message_id, seen) VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", (entity.path, message_id, now)).rowcount
        return inserted == 0

    def send(self, path: str, messages: Sequence[OutgoingMessage]) -> list[int]:
        path, dead = split_dead_letter(path)
        if dead:
            raise StoreError(f"Cannot send to the dead-letter queue of '{path}'; send to '{path}' itself.")
        with self._connection(f"send to {path!r}") as conn:
            self._begin(conn)
            now = self._clock()
            entity = self._ensure(conn, path, QUEUE)
            subscriptions: list[Entity] = []
            if entity.kind == TOPIC:
                prefix = f"{path}/subscriptions/"
                rows = conn.execute("SELECT path FROM sb_entities WHERE kind = 'subscription' AND path >= %s "
                                    "AND path < %s ORDER BY path", (prefix, prefix[:-1] + "0")).fetchall()
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

    # -- receiving ----------------------------------------------------------------------------------------------

    @staticmethod
    def _kill(conn: Conn, path: str, seq: int, reason: str, description: str) -> None:
        conn.execute("UPDATE sb_messages SET dead = 1, reason = %s, description = %s, token = NULL, "
                     "locked_until = NULL WHERE entity = %s AND seq = %s", (reason, description, path, seq))

    def receive(self, path: str, max_messages: int, session: SessionLock | None = None) -> list[BusMessage]:
        if not 1 <= max_messages <= MAX_RECEIVE:
            raise StoreError(f"The number of messages to receive must be 1-{MAX_RECEIVE}, not {max_messages}.")
        base, dead = split_dead_letter(path)
        where = "entity = %s AND dead = %s AND available <= %s AND (locked_until IS NULL OR locked_until <= %s)"
        with self._connection(f"receive from {path!r}") as conn:
            now = self._clock()
            args: tuple[Any, ...] = (base, int(dead), now, now)
            if session is not None and not dead:
                where += " AND session_id = %s"
                args += (session.session_id,)
            # An idle listener polls often: find out without the write lock that there is nothing to take.
            if conn.execute(f"SELECT 1 FROM sb_messages WHERE {where} LIMIT 1", args).fetchone() is None:
                if session is not None and not dead:
                    self._session_held(conn, base, session, now)
                return []
            self._begin(conn)
            now = self._clock()
            args = (base, int(dead), now, now, *args[4:])
            entity = self._load(conn, base)
            if entity is None or entity.kind == TOPIC:
                conn.execute("COMMIT")
                return []
            props = entity.properties
            if props.requires_session and not dead:
                if session is None:
                    raise StoreError(f"'{base}' requires sessions: accept a session before receiving.")
                self._session_held(conn, base, session, now)
            rows = conn.execute(f"SELECT {_COLUMNS} FROM sb_messages WHERE {where} ORDER BY seq", args)
            taken: list[tuple[Any, ...]] = []
            swept: list[tuple[str, int, str]] = []
            for row in rows:
                seq, expires, deliveries = row[0], row[3], row[4]
                if not dead and expires is not None and expires <= now:
                    swept.append(("expire", seq, ""))
                elif not dead and deliveries >= props.max_delivery_count:
                    swept.append(("max", seq, ""))
                else:
                    taken.append(row)
                    if len(taken) == max_messages:
                        break
            rows.close()
            for what, seq, _ in swept:
                if what == "max":
                    self._kill(conn, base, seq, MAX_DELIVERY_REASON,
                               max_delivery_description(props.max_delivery_count))
                elif props.dead_letter_on_expiration:
                    self._kill(conn, base, seq, EXPIRED_REASON, EXPIRED_DESCRIPTION)
                else:
                    conn.execute("DELETE FROM sb_messages WHERE entity = %s AND seq = %s", (base, seq))
            until = now + props.lock_duration
            if session is not None and not dead:
                until = max(until, session.locked_until)
            got = []
            for row in taken:
                token = new_lock_token()
                conn.execute("UPDATE sb_messages SET deliveries = deliveries + 1, token = %s, locked_until = %s "
                             "WHERE entity = %s AND seq = %s", (token, until, base, row[0]))
                got.append(_view(base, (*row[:4], row[4] + 1, token, until, *row[7:]), now))
            conn.execute("COMMIT")
        return got

    @staticmethod
    def _session_held(conn: Conn, path: str, session: SessionLock, now: float) -> None:
        held = conn.execute("SELECT 1 FROM sb_sessions WHERE entity = %s AND session_id = %s AND token = %s "
                            "AND locked_until > %s", (path, session.session_id, session.token, now)).fetchone()
        if held is None:
            raise StoreError(f"The lock on session '{session.session_id}' of '{path}' was lost; accept it again.")

    def _held(self, conn: Conn, path: str, token: str, now: float) -> tuple[Entity, int, int, int] | None:
        base, _ = split_dead_letter(path)
        row = conn.execute("SELECT seq, dead, deliveries FROM sb_messages WHERE token = %s AND entity = %s "
                           "AND locked_until > %s", (token, base, now)).fetchone()
        if row is None:
            return None
        entity = self._load(conn, base)
        return None if entity is None else (entity, int(row[0]), int(row[1]), int(row[2]))

    def settle(self, path: str, lock_tokens: Sequence[str], action: Literal["complete", "abandon"]) -> list[bool]:
        with self._connection(f"{action} messages of {path!r}") as conn:
            self._begin(conn)
            now = self._clock()
            done = []
            for token in lock_tokens:
                held = self._held(conn, path, token, now)
                if held is None:
                    done.append(False)
                    continue
                entity, seq, dead, deliveries = held
                if action == "complete":
                    conn.execute("DELETE FROM sb_messages WHERE entity = %s AND seq = %s", (entity.path, seq))
                elif not dead and deliveries >= entity.properties.max_delivery_count:
                    count = entity.properties.max_delivery_count
                    self._kill(conn, entity.path, seq, MAX_DELIVERY_REASON, max_delivery_description(count))
                else:
                    conn.execute("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = %s "
                                 "AND seq = %s", (entity.path, seq))
                    self._changed(conn, entity.path)  # abandoned: another instance's receiver may take it now
                done.append(True)
            conn.execute("COMMIT")
        return done

    def dead_letter(self, path: str, lock_token: str, reason: str, description: str = "") -> bool:
        with self._connection(f"dead-letter a message of {path!r}") as conn:
            self._begin(conn)
            held = self._held(conn, path, lock_token, self._clock())
            if held is not None and not held[2]:
                self._kill(conn, held[0].path, held[1], reason, description)
            conn.execute("COMMIT")
        return held is not None and not held[2]

    def renew(self, path: str, lock_token: str) -> float | None:
        with self._connection(f"renew a lock on {path!r}") as conn:
            self._begin(conn)
            now = self._clock()
            held = self._held(conn, path, lock_token, now)
            until = None
            if held is not None:
                until = now + held[0].properties.lock_duration
                conn.execute("UPDATE sb_messages SET locked_until = %s WHERE entity = %s AND seq = %s",
                             (until, held[0].path, held[1]))
            conn.execute("COMMIT")
        return until

    # -- sessions -----------------------------------------------------------------------------------------------

    def accept_session(self, path: str, session_id: str | None = None) -> SessionLock | None:
        base = normalize(path)
        query = ("SELECT m.session_id FROM sb_messages m LEFT JOIN sb_sessions s ON s.entity = m.entity AND "
                 "s.session_id = m.session_id WHERE m.entity = %s AND m.dead = 0 AND m.available <= %s AND "
                 "m.session_id IS NOT NULL AND (s.locked_until IS NULL OR s.locked_until <= %s)")
        with self._connection(f"accept a session of {path!r}") as conn:
            now = self._clock()
            args: tuple[Any, ...] = (base, now, now)
            if session_id is not None:
                query += " AND m.session_id = %s"
                args += (session_id,)
            query += " ORDER BY m.seq LIMIT 1"
            if conn.execute(query, args).fetchone() is None:
                return None
            self._begin(conn)
            now = self._clock()
            row = conn.execute(query, (base, now, now, *args[3:])).fetchone()
            entity = self._load(conn, base)
            if row is None or entity is None:
                conn.execute("COMMIT")
                return None
            lock = SessionLock(base, str(row[0]), new_lock_token(), now + entity.properties.lock_duration)
            conn.execute("INSERT INTO sb_sessions (entity, session_id, token, locked_until) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (entity, session_id) DO UPDATE SET token = excluded.token, "
                         "locked_until = excluded.locked_until", (base, lock.session_id, lock.token, lock.locked_until))
            # The previous holder's message locks went with its session.
            conn.execute("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = %s AND "
                         "session_id = %s AND dead = 0", (base, lock.session_id))
            conn.execute("COMMIT")
        return lock

    def renew_session(self, lock: SessionLock) -> SessionLock | None:
        with self._connection(f"renew session {lock.session_id!r}") as conn:
            self._begin(conn)
            now = self._clock()
            entity = self._load(conn, lock.entity)
            renewed = None
            if entity is not None:
                until = now + entity.properties.lock_duration
                count = conn.execute("UPDATE sb_sessions SET locked_until = %s WHERE entity = %s AND session_id = %s "
                                     "AND token = %s AND locked_until > %s",
                                     (until, lock.entity, lock.session_id, lock.token, now)).rowcount
                renewed = replace(lock, locked_until=until) if count == 1 else None
            conn.execute("COMMIT")
        return renewed

    def release_session(self, lock: SessionLock) -> None:
        with self._connection(f"release session {lock.session_id!r}") as conn:
            self._begin(conn)
            count = conn.execute("DELETE FROM sb_sessions WHERE entity = %s AND session_id = %s AND token = %s",
                                 (lock.entity, lock.session_id, lock.token)).rowcount
            if count:
                conn.execute("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = %s AND "
                             "session_id = %s AND dead = 0", (lock.entity, lock.session_id))
            conn.execute("COMMIT")

    # -- admin --------------------------------------------------------------------------------------------------

    def entities(self) -> list[EntityCounts]:
        with self._connection("list Service Bus entities") as conn:
            now = self._clock()
            counts = {
                str(path): (int(active), int(dead), int(scheduled))
                for path, active, dead, scheduled in conn.execute(
                    "SELECT entity, SUM(CASE WHEN dead = 0 AND available <= %s THEN 1 ELSE 0 END), SUM(dead), "
                    "SUM(CASE WHEN dead = 0 AND available > %s THEN 1 ELSE 0 END) FROM sb_messages "
                    "WHERE dead = 1 OR expires IS NULL OR expires > %s GROUP BY entity", (now, now, now))
            }
            rows = conn.execute("SELECT path, kind, properties FROM sb_entities ORDER BY path").fetchall()
        return [EntityCounts(str(p), k, *counts.get(str(p), (0, 0, 0)), decode_properties(props))
                for p, k, props in rows]

    def peek(self, path: str, max_messages: int, from_sequence: int = 0) -> list[BusMessage]:
        base, dead = split_dead_letter(path)
        with self._connection(f"peek {path!r}") as conn:
            now = self._clock()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM sb_messages WHERE entity = %s AND dead = %s AND seq >= %s AND "
                "(dead = 1 OR expires IS NULL OR expires > %s) ORDER BY seq LIMIT %s",
                (base, int(dead), from_sequence, now, max_messages)).fetchall()
        return [_view(base, row, now) for row in rows]

    def purge(self, path: str) -> int:
        base, dead = split_dead_letter(path)
        with self._connection(f"purge {path!r}") as conn:
            return int(conn.execute("DELETE FROM sb_messages WHERE entity = %s AND dead = %s",
                                    (base, int(dead))).rowcount)

    def resubmit(self, path: str, sequence_numbers: Sequence[int] | None = None) -> int:
        base, _ = split_dead_letter(path)
        with self._connection(f"resubmit dead-lettered messages of {path!r}") as conn:
            self._begin(conn)
            now = self._clock()
            entity = self._load(conn, base)
            rows = conn.execute("SELECT seq, body, properties FROM sb_messages WHERE entity = %s AND dead = 1 "
                                "ORDER BY seq", (base,)).fetchall()
            chosen = [r for r in rows if sequence_numbers is None or r[0] in sequence_numbers]
            for seq, body, props in chosen if entity is not None else []:
                conn.execute("DELETE FROM sb_messages WHERE entity = %s AND seq = %s", (base, seq))
                message = replace(decode_message(props, bytes(body)), scheduled_enqueue_time=None)
                self._append(conn, entity, message, now)  # type: ignore[arg-type]  # checked above
            if chosen and entity is not None:
                self._changed(conn, base)
            conn.execute("COMMIT")
        return len(chosen) if entity is not None else 0
