"""MemoryServiceBusStore: the Service Bus store in this process (tests, single-process tools)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from overcast.backends.base import Clock
from overcast.backends.changes import HeardInProcess
from overcast.backends.memory.common import MemoryStore
from overcast.backends.servicebus_store import (
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


@dataclass
class _Row:
    seq: int
    message: OutgoingMessage
    enqueued: float
    available: float
    expires: float | None
    deliveries: int = 0
    token: str | None = None
    locked_until: float | None = None
    dead: bool = False
    reason: str | None = None
    description: str | None = None
    source: str | None = None

    def view(self, path: str, now: float) -> BusMessage:
        held = self.token is not None and self.locked_until is not None and self.locked_until > now
        state: Literal["active", "scheduled", "deadlettered"] = (
            "deadlettered" if self.dead else "scheduled" if self.available > now else "active")
        return BusMessage(
            path + ("/$deadletterqueue" if self.dead else ""), self.seq, self.message, self.enqueued, self.expires,
            self.deliveries, state, self.token if held else None, self.locked_until if held else None,
            self.reason, self.description, self.source)


class MemoryServiceBusStore(MemoryStore, HeardInProcess):
    """Implements ServiceBusBackend under one lock."""

    kind = "Service Bus store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._entities: dict[str, Entity] = {}
        self._rows: dict[str, dict[int, _Row]] = {}
        self._next: dict[str, int] = {}
        self._sessions: dict[tuple[str, str], tuple[str, float]] = {}
        self._seen: dict[str, dict[str, float]] = {}

    # -- entities -----------------------------------------------------------------------------------------------

    def _ensure(self, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        found = self._entities.get(path)
        if found is None:
            if kind == SUBSCRIPTION and topic_of(path) is not None:
                self._ensure(str(topic_of(path)), TOPIC)
            found = self._entities[path] = Entity(path, kind, EntityProperties(requires_session=requires_session))
            self._rows[path] = {}
            self._next[path] = 1
        return found

    def declare(self, entities: Sequence[Entity]) -> None:
        with self._open():
            for entity in entities:
                path = normalize(entity.path)
                self._ensure(path, entity.kind)
                self._entities[path] = replace(entity, path=path)

    def ensure(self, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        with self._open():
            return self._ensure(normalize(path), kind, requires_session)

    def _entity(self, path: str) -> Entity:
        found = self._entities.get(path)
        if found is None:
            raise StoreError(f"The Service Bus entity '{path}' does not exist.")
        return found

    # -- sending ------------------------------------------------------------------------------------------------

    def _append(self, path: str, message: OutgoingMessage, now: float) -> int:
        entity = self._entities[path]
        seq = self._next[path]
        self._next[path] = seq + 1
        available = max(now, message.scheduled_enqueue_time or now)
        self._rows[path][seq] = _Row(seq, message, available, available, expires_at(message, available,
                                                                                    entity.properties))
        return seq

    def _duplicate(self, entity: Entity, message_id: str, now: float) -> bool:
        window = entity.properties.duplicate_window
        if window is None:
            return False
        seen = self._seen.setdefault(entity.path, {})
        for key in [k for k, t in seen.items() if t <= now - window]:
            del seen[key]
        if message_id in seen:
            return True
        seen[message_id] = now
        return False

    def send(self, path: str, messages: Sequence[OutgoingMessage]) -> list[int]:
        path, dead = split_dead_letter(path)
        if dead:
            raise StoreError(f"Cannot send to the dead-letter queue of '{path}'; send to '{path}' itself.")
        with self._open() as now:
            entity = self._ensure(path, QUEUE)
            numbers = []
            for message in messages:
                if message.message_id is None:
                    message = replace(message, message_id=new_message_id())
                if self._duplicate(entity, str(message.message_id), now):
                    numbers.append(0)
                elif entity.kind == TOPIC:
                    for sub in [e for e in self._entities.values() if topic_of(e.path) == path]:
                        for copy in route(sub.rules, message):
                            self._append(sub.path, copy, now)
                    numbers.append(0)
                else:
                    numbers.append(self._append(path, message, now))
            return numbers

    # -- receiving ----------------------------------------------------------------------------------------------

    def _kill(self, path: str, row: _Row, reason: str, description: str) -> None:
        row.dead, row.reason, row.description = True, reason, description
        row.token = row.locked_until = None

    def _sweep(self, entity: Entity, row: _Row, now: float) -> bool:
        """Expire or dead-letter a row that is not held; True when it is still available."""
        if row.expires is not None and row.expires <= now:
            if entity.properties.dead_letter_on_expiration:
                self._kill(entity.path, row, EXPIRED_REASON, EXPIRED_DESCRIPTION)
            else:
                del self._rows[entity.path][row.seq]
            return False
        if row.deliveries >= entity.properties.max_delivery_count:
            # Its last lock ran out: the broker dead-letters it instead of delivering it again.
            count = entity.properties.max_delivery_count
            self._kill(entity.path, row, MAX_DELIVERY_REASON, max_delivery_description(count))
            return False
        return True

    def _session_held(self, path: str, session: SessionLock, now: float) -> None:
        held = self._sessions.get((path, session.session_id))
        if held is None or held[0] != session.token or held[1] <= now:
            raise StoreError(f"The lock on session '{session.session_id}' of '{path}' was lost; accept it again.")

    def receive(self, path: str, max_messages: int, session: SessionLock | None = None) -> list[BusMessage]:
        if not 1 <= max_messages <= MAX_RECEIVE:
            raise StoreError(f"The number of messages to receive must be 1-{MAX_RECEIVE}, not {max_messages}.")
        base, dead = split_dead_letter(path)
        with self._open() as now:
            entity = self._entities.get(base)
            if entity is None or entity.kind == TOPIC:
                return []
            if entity.properties.requires_session and not dead:
                if session is None:
                    raise StoreError(f"'{base}' requires sessions: accept a session before receiving.")
                self._session_held(base, session, now)
            got: list[BusMessage] = []
            for row in sorted(self._rows[base].values(), key=lambda r: r.seq):
                if row.dead != dead or row.available > now:
                    continue
                if row.token is not None and row.locked_until is not None and row.locked_until > now:
                    continue
                if session is not None and not dead and row.message.session_id != session.session_id:
                    continue
                if not dead and not self._sweep(entity, row, now):
                    continue
                row.deliveries += 1
                row.token = new_lock_token()
                row.locked_until = now + entity.properties.lock_duration
                if session is not None and not dead:
                    row.locked_until = max(row.locked_until, session.locked_until)
                got.append(row.view(base, now))
                if len(got) == max_messages:
                    break
            return got

    def _held(self, path: str, token: str, now: float) -> tuple[Entity, _Row] | None:
        base, _ = split_dead_letter(path)
        entity = self._entities.get(base)
        if entity is None:
            return None
        for row in self._rows[base].values():
            if row.token == token:
                if row.locked_until is None or row.locked_until <= now:
                    return None
                return entity, row
        return None

    def settle(self, path: str, lock_tokens: Sequence[str], action: Literal["complete", "abandon"]) -> list[bool]:
        with self._open() as now:
            done = []
            for token in lock_tokens:
                held = self._held(path, token, now)
                if held is None:
                    done.append(False)
                    continue
                entity, row = held
                if action == "complete":
                    del self._rows[entity.path][row.seq]
                else:
                    row.token = row.locked_until = None
                    if not row.dead and row.deliveries >= entity.properties.max_delivery_count:
                        count = entity.properties.max_delivery_count
                        self._kill(entity.path, row, MAX_DELIVERY_REASON, max_delivery_description(count))
                done.append(True)
            return done

    def dead_letter(self, path: str, lock_token: str, reason: str, description: str = "") -> bool:
        with self._open() as now:
            held = self._held(path, lock_token, now)
            if held is None or held[1].dead:
                return False
            self._kill(held[0].path, held[1], reason, description)
            return True

    def renew(self, path: str, lock_token: str) -> float | None:
        with self._open() as now:
            held = self._held(path, lock_token, now)
            if held is None:
                return None
            held[1].locked_until = now + held[0].properties.lock_duration
            return held[1].locked_until

    # -- sessions -----------------------------------------------------------------------------------------------

    def accept_session(self, path: str, session_id: str | None = None) -> SessionLock | None:
        base = normalize(path)
        with self._open() as now:
            entity = self._entities.get(base)
            if entity is None:
                return None
            candidates: list[tuple[int, str]] = []
            for row in self._rows[base].values():
                sid = row.message.session_id
                if row.dead or row.available > now or sid is None or (session_id is not None and sid != session_id):
                    continue
                held = self._sessions.get((base, sid))
                if held is not None and held[1] > now:
                    continue
                candidates.append((row.seq, sid))
            if not candidates:
                return None
            chosen = min(candidates)[1]
            lock = SessionLock(base, chosen, new_lock_token(), now + entity.properties.lock_duration)
            self._sessions[(base, chosen)] = (lock.token, lock.locked_until)
            for row in self._rows[base].values():
                if row.message.session_id == chosen and not row.dead:
                    row.token = row.locked_until = None  # the previous holder's locks go with its session
            return lock

    def renew_session(self, lock: SessionLock) -> SessionLock | None:
        with self._open() as now:
            held = self._sessions.get((lock.entity, lock.session_id))
            if held is None or held[0] != lock.token or held[1] <= now:
                return None
            until = now + self._entities[lock.entity].properties.lock_duration
            self._sessions[(lock.entity, lock.session_id)] = (lock.token, until)
            return replace(lock, locked_until=until)

    def release_session(self, lock: SessionLock) -> None:
        with self._open():
            held = self._sessions.get((lock.entity, lock.session_id))
            if held is not None and held[0] == lock.token:
                del self._sessions[(lock.entity, lock.session_id)]
                for row in self._rows.get(lock.entity, {}).values():
                    if row.message.session_id == lock.session_id and not row.dead and row.token is not None:
                        row.token = row.locked_until = None

    # -- admin --------------------------------------------------------------------------------------------------

    def entities(self) -> list[EntityCounts]:
        with self._open() as now:
            found = []
            for path in sorted(self._entities):
                entity = self._entities[path]
                rows = [r for r in self._rows[path].values()
                        if r.dead or r.expires is None or r.expires > now]
                found.append(EntityCounts(
                    path, entity.kind, sum(1 for r in rows if not r.dead and r.available <= now),
                    sum(1 for r in rows if r.dead), sum(1 for r in rows if not r.dead and r.available > now),
                    entity.properties))
            return found

    def peek(self, path: str, max_messages: int, from_sequence: int = 0) -> list[BusMessage]:
        base, dead = split_dead_letter(path)
        with self._open() as now:
            rows = sorted((r for r in self._rows.get(base, {}).values()
                           if r.dead == dead and r.seq >= from_sequence
                           and (dead or r.expires is None or r.expires > now)), key=lambda r: r.seq)
            return [r.view(base, now) for r in rows[:max_messages]]

    def purge(self, path: str) -> int:
        base, dead = split_dead_letter(path)
        with self._open():
            rows = self._rows.get(base, {})
            doomed = [seq for seq, r in rows.items() if r.dead == dead]
            for seq in doomed:
                del rows[seq]
            return len(doomed)

    def resubmit(self, path: str, sequence_numbers: Sequence[int] | None = None) -> int:
        base, _ = split_dead_letter(path)
        with self._open() as now:
            rows = self._rows.get(base, {})
            chosen = [r for r in sorted(rows.values(), key=lambda r: r.seq)
                      if r.dead and (sequence_numbers is None or r.seq in sequence_numbers)]
            for row in chosen:
                del rows[row.seq]
                self._append(base, replace(row.message, scheduled_enqueue_time=None), now)
            return len(chosen)
