"""``ServiceBusCore``: the Service Bus store's peek-lock side (receive, settle, dead-letter, renew, sessions) on top of
:class:`~overcast.backends.sql.servicebus_entities.ServiceBusEntityCore`, for the SQLite and PostgreSQL stores.

Every receive and settlement is one transaction holding its entity's write lock (:func:`entity_lock`), so two
instances never lock the same message or session, and receives from different entities do not wait for each other;
reads and the idle probe run without it. The index ``(entity, dead, seq)`` is the receive
order; a receive reads rows in that order and stops as soon as its batch is full, expiring or dead-lettering the rows
it passes over (as the broker does lazily). Sessions are held in ``sb_sessions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from overcast.backends.servicebus_store import (
    EXPIRED_DESCRIPTION,
    EXPIRED_REASON,
    MAX_DELIVERY_REASON,
    MAX_RECEIVE,
    TOPIC,
    BusMessage,
    Entity,
    SessionLock,
    max_delivery_description,
    new_lock_token,
    normalize,
    split_dead_letter,
)
from overcast.backends.sql.core import C
from overcast.backends.sql.servicebus_entities import COLUMNS, ServiceBusEntityCore, entity_lock, view
from overcast.errors import StoreError


class ServiceBusCore(ServiceBusEntityCore[C]):
    """Implements ServiceBusBackend but ``close`` and ``watch_changes``; the backend supplies ``_begin_write``, and
    ``_changed`` and ``_execute_many`` where it has better than the defaults."""

    def _execute_many(self, conn: C, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` (already in the database's placeholders) once per row of parameters, in the transaction."""
        for row in rows:
            conn.execute(sql, row)

    def _kill(self, conn: C, path: str, seq: int, reason: str, description: str) -> None:
        conn.execute(self._sql("UPDATE sb_messages SET dead = 1, reason = ?, description = ?, token = NULL, "
                               "locked_until = NULL WHERE entity = ? AND seq = ?"), (reason, description, path, seq))

    # -- receiving ----------------------------------------------------------------------------------------------

    def receive(self, path: str, max_messages: int, session: SessionLock | None = None) -> list[BusMessage]:
        if not 1 <= max_messages <= MAX_RECEIVE:
            raise StoreError(f"The number of messages to receive must be 1-{MAX_RECEIVE}, not {max_messages}.")
        base, dead = split_dead_letter(path)
        where = "entity = ? AND dead = ? AND available <= ? AND (locked_until IS NULL OR locked_until <= ?)"
        with self._connection(f"receive from {path!r}") as conn:
            now = self._clock()
            args: tuple[Any, ...] = (base, int(dead), now, now)
            if session is not None and not dead:
                where += " AND session_id = ?"
                args += (session.session_id,)
            # An idle listener polls often: find out without the write lock that there is nothing to take.
            if conn.execute(self._sql(f"SELECT 1 FROM sb_messages WHERE {where} LIMIT 1"), args).fetchone() is None:
                if session is not None and not dead:
                    self._session_held(conn, base, session, now)
                return []
            self._begin_write(conn, entity_lock(base))
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
            rows = conn.execute(self._sql(f"SELECT {COLUMNS} FROM sb_messages WHERE {where} ORDER BY seq"), args)
            taken: list[tuple[Any, ...]] = []
            swept: list[tuple[str, int]] = []
            for row in rows:
                seq, expires, deliveries = row[0], row[3], row[4]
                if not dead and expires is not None and expires <= now:
                    swept.append(("expire", seq))
                elif not dead and deliveries >= props.max_delivery_count:
                    swept.append(("max", seq))
                else:
                    taken.append(row)
                    if len(taken) == max_messages:
                        break
            rows.close()
            for what, seq in swept:
                if what == "max":
                    self._kill(conn, base, seq, MAX_DELIVERY_REASON,
                               max_delivery_description(props.max_delivery_count))
                elif props.dead_letter_on_expiration:
                    self._kill(conn, base, seq, EXPIRED_REASON, EXPIRED_DESCRIPTION)
                else:
                    conn.execute(self._sql("DELETE FROM sb_messages WHERE entity = ? AND seq = ?"), (base, seq))
            until = now + props.lock_duration
            if session is not None and not dead:
                until = max(until, session.locked_until)
            tokens = [new_lock_token() for _ in taken]
            self._execute_many(conn, self._sql("UPDATE sb_messages SET deliveries = deliveries + 1, token = ?, "
                                               "locked_until = ? WHERE entity = ? AND seq = ?"),
                               [(token, until, base, row[0]) for token, row in zip(tokens, taken, strict=True)])
            conn.execute("COMMIT")
        return [view(base, (*row[:4], row[4] + 1, token, until, *row[7:]), now)
                for token, row in zip(tokens, taken, strict=True)]

    def _session_held(self, conn: C, path: str, session: SessionLock, now: float) -> None:
        held = conn.execute(self._sql("SELECT 1 FROM sb_sessions WHERE entity = ? AND session_id = ? AND token = ? "
                                      "AND locked_until > ?"),
                            (path, session.session_id, session.token, now)).fetchone()
        if held is None:
            raise StoreError(f"The lock on session '{session.session_id}' of '{path}' was lost; accept it again.")

    # -- settling -----------------------------------------------------------------------------------------------

    def _held(self, conn: C, path: str, token: str, now: float) -> tuple[Entity, int, int, int] | None:
        base, _ = split_dead_letter(path)
        row = conn.execute(self._sql("SELECT seq, dead, deliveries FROM sb_messages WHERE token = ? AND entity = ? "
                                     "AND locked_until > ?"), (token, base, now)).fetchone()
        if row is None:
            return None
        entity = self._load(conn, base)
        return None if entity is None else (entity, int(row[0]), int(row[1]), int(row[2]))

    def settle(self, path: str, lock_tokens: Sequence[str], action: Literal["complete", "abandon"]) -> list[bool]:
        base, _ = split_dead_letter(path)
        with self._connection(f"{action} messages of {path!r}") as conn:
            self._begin_write(conn, entity_lock(base))
            now = self._clock()
            if action == "complete":
                # One statement per message: a completion needs no entity settings (a listener completes in groups).
                delete = self._sql("DELETE FROM sb_messages WHERE token = ? AND entity = ? AND locked_until > ?")
                done = [conn.execute(delete, (token, base, now)).rowcount == 1 for token in lock_tokens]
                conn.execute("COMMIT")
                return done
            done = []
            for token in lock_tokens:
                held = self._held(conn, path, token, now)
                if held is None:
                    done.append(False)
                    continue
                entity, seq, dead, deliveries = held
                if not dead and deliveries >= entity.properties.max_delivery_count:
                    count = entity.properties.max_delivery_count
                    self._kill(conn, entity.path, seq, MAX_DELIVERY_REASON, max_delivery_description(count))
                else:
                    conn.execute(self._sql("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = ? "
                                           "AND seq = ?"), (entity.path, seq))
                    self._changed(conn, entity.path)  # abandoned: another instance's receiver may take it now
                done.append(True)
            conn.execute("COMMIT")
        return done

    def dead_letter(self, path: str, lock_token: str, reason: str, description: str = "") -> bool:
        with self._connection(f"dead-letter a message of {path!r}") as conn:
            self._begin_write(conn, entity_lock(path))
            held = self._held(conn, path, lock_token, self._clock())
            if held is not None and not held[2]:
                self._kill(conn, held[0].path, held[1], reason, description)
            conn.execute("COMMIT")
        return held is not None and not held[2]

    def renew(self, path: str, lock_token: str) -> float | None:
        with self._connection(f"renew a lock on {path!r}") as conn:
            self._begin_write(conn, entity_lock(path))
            now = self._clock()
            held = self._held(conn, path, lock_token, now)
            until = None
            if held is not None:
                until = now + held[0].properties.lock_duration
                conn.execute(self._sql("UPDATE sb_messages SET locked_until = ? WHERE entity = ? AND seq = ?"),
                             (until, held[0].path, held[1]))
            conn.execute("COMMIT")
        return until

    # -- sessions -----------------------------------------------------------------------------------------------

    def accept_session(self, path: str, session_id: str | None = None) -> SessionLock | None:
        base = normalize(path)
        query = ("SELECT m.session_id FROM sb_messages m LEFT JOIN sb_sessions s ON s.entity = m.entity AND "
                 "s.session_id = m.session_id WHERE m.entity = ? AND m.dead = 0 AND m.available <= ? AND "
                 "m.session_id IS NOT NULL AND (s.locked_until IS NULL OR s.locked_until <= ?)")
        with self._connection(f"accept a session of {path!r}") as conn:
            now = self._clock()
            args: tuple[Any, ...] = (base, now, now)
            if session_id is not None:
                query += " AND m.session_id = ?"
                args += (session_id,)
            query = self._sql(query + " ORDER BY m.seq LIMIT 1")
            if conn.execute(query, args).fetchone() is None:
                return None
            self._begin_write(conn, entity_lock(base))
            now = self._clock()
            row = conn.execute(query, (base, now, now, *args[3:])).fetchone()
            entity = self._load(conn, base)
            if row is None or entity is None:
                conn.execute("COMMIT")
                return None
            lock = SessionLock(base, str(row[0]), new_lock_token(), now + entity.properties.lock_duration)
            conn.execute(self._sql("INSERT INTO sb_sessions (entity, session_id, token, locked_until) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT (entity, session_id) DO UPDATE SET "
                                   "token = excluded.token, locked_until = excluded.locked_until"),
                         (base, lock.session_id, lock.token, lock.locked_until))
            # The previous holder's message locks went with its session.
            conn.execute(self._sql("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = ? AND "
                                   "session_id = ? AND dead = 0"), (base, lock.session_id))
            conn.execute("COMMIT")
        return lock

    def renew_session(self, lock: SessionLock) -> SessionLock | None:
        with self._connection(f"renew session {lock.session_id!r}") as conn:
            self._begin_write(conn, entity_lock(lock.entity))
            now = self._clock()
            entity = self._load(conn, lock.entity)
            renewed = None
            if entity is not None:
                until = now + entity.properties.lock_duration
                count = conn.execute(self._sql("UPDATE sb_sessions SET locked_until = ? WHERE entity = ? "
                                               "AND session_id = ? AND token = ? AND locked_until > ?"),
                                     (until, lock.entity, lock.session_id, lock.token, now)).rowcount
                renewed = replace(lock, locked_until=until) if count == 1 else None
            conn.execute("COMMIT")
        return renewed

    def release_session(self, lock: SessionLock) -> None:
        with self._connection(f"release session {lock.session_id!r}") as conn:
            self._begin_write(conn, entity_lock(lock.entity))
            count = conn.execute(self._sql("DELETE FROM sb_sessions WHERE entity = ? AND session_id = ? "
                                           "AND token = ?"), (lock.entity, lock.session_id, lock.token)).rowcount
            if count:
                conn.execute(self._sql("UPDATE sb_messages SET token = NULL, locked_until = NULL WHERE entity = ? "
                                       "AND session_id = ? AND dead = 0"), (lock.entity, lock.session_id))
            conn.execute("COMMIT")
