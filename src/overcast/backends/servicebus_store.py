"""The Service Bus store: queues, topics and subscriptions with the broker's peek-lock semantics.

Entities are addressed by path, lower-case as the broker ignores case: ``orders`` (a queue or a topic),
``events/subscriptions/audit`` (a subscription), and either with ``/$deadletterqueue`` for its dead-letter queue.
A message received is locked for the entity's lock duration and carries a lock token; it is then completed (gone),
abandoned (available again at once), dead-lettered (with a reason and description) or its lock is renewed. Each
receive counts a delivery; a message whose delivery count has reached the entity's max delivery count when it is
abandoned, or when its lock ran out, moves to the dead-letter queue with reason ``MaxDeliveryCountExceeded``, as the
broker does. A message past its time-to-live is dropped, or dead-lettered (``TTLExpiredException``) when the entity
says so. A scheduled message is invisible until its time. On an entity that requires sessions, a receiver first
accepts a session (one holder at a time, its lock renewed like a message's) and receives only that session's
messages, in order. Sending to a topic copies the message into each subscription whose rules match
(:mod:`overcast.backends.servicebus_filter`). Every operation takes its time from the store's clock.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Final, Literal, Protocol

from overcast.backends.changes import ChangeSource
from overcast.backends.servicebus_filter import correlation_filter, parse_sql_action, parse_sql_filter

EntityKind = Literal["queue", "topic", "subscription"]
QUEUE: Final = "queue"
TOPIC: Final = "topic"
SUBSCRIPTION: Final = "subscription"
DEAD_LETTER_SUFFIX = "/$deadletterqueue"
MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
EXPIRED_REASON = "TTLExpiredException"
DEFAULT_LOCK = 60.0  # Azure's defaults for a new entity: lock 1 min, 10 deliveries, no expiry
DEFAULT_MAX_DELIVERY = 10
DEFAULT_DUPLICATE_WINDOW = 600.0  # 10 minutes when duplicate detection is on without a window
MAX_RECEIVE = 1000


def max_delivery_description(count: int) -> str:
    return f"Message could not be consumed after {count} delivery attempts."


EXPIRED_DESCRIPTION = "The message expired and was dead lettered."


@dataclass(frozen=True)
class EntityProperties:
    """An entity's settings (the emulator config's names in comments); Azure's defaults."""

    lock_duration: float = DEFAULT_LOCK  # LockDuration
    max_delivery_count: int = DEFAULT_MAX_DELIVERY  # MaxDeliveryCount
    default_ttl: float | None = None  # DefaultMessageTimeToLive (None: never expires)
    dead_letter_on_expiration: bool = False  # DeadLetteringOnMessageExpiration
    requires_session: bool = False  # RequiresSession
    duplicate_window: float | None = None  # RequiresDuplicateDetection + DuplicateDetectionHistoryTimeWindow


@dataclass(frozen=True)
class Rule:
    """A subscription rule: a SQL or correlation filter, and an optional SQL action."""

    name: str
    sql: str | None = None
    correlation: Mapping[str, Any] | None = None
    action: str | None = None


DEFAULT_RULE = Rule("$Default", sql="1=1")


@dataclass(frozen=True)
class Entity:
    path: str
    kind: EntityKind
    properties: EntityProperties = EntityProperties()
    rules: tuple[Rule, ...] = (DEFAULT_RULE,)  # subscriptions only


@dataclass(frozen=True)
class OutgoingMessage:
    """What a sender sets. Times are clock readings (seconds since the epoch); ttl in seconds."""

    body: bytes
    message_id: str | None = None  # a new GUID when None
    session_id: str | None = None
    content_type: str | None = None
    correlation_id: str | None = None
    subject: str | None = None  # Label
    to: str | None = None
    reply_to: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    time_to_live: float | None = None
    scheduled_enqueue_time: float | None = None
    application_properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BusMessage:
    """A message as the store holds it (what receive and peek return)."""

    entity: str  # the path received from (``.../$deadletterqueue`` for a dead-lettered message)
    sequence_number: int
    message: OutgoingMessage  # its body and properties (message_id always set)
    enqueued_time: float
    expires_at: float | None
    delivery_count: int
    state: Literal["active", "scheduled", "deadlettered"] = "active"
    lock_token: str | None = None
    locked_until: float | None = None
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    dead_letter_source: str | None = None

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def enqueued_utc(self) -> datetime:
        return datetime.fromtimestamp(self.enqueued_time, timezone.utc)


@dataclass(frozen=True)
class SessionLock:
    entity: str
    session_id: str
    token: str
    locked_until: float


@dataclass(frozen=True)
class EntityCounts:
    path: str
    kind: EntityKind
    active: int
    dead_letter: int
    scheduled: int
    properties: EntityProperties


class ServiceBusStore(Protocol):
    """The runtime operations (senders and the trigger's receivers); safe across threads and processes."""

    def declare(self, entities: Sequence[Entity]) -> None:
        """Create or update entities (the app's entity config): properties and rules replace the stored ones."""
        ...

    def ensure(self, path: str, kind: EntityKind, requires_session: bool = False) -> Entity:
        """The entity at ``path``, created with Azure's defaults when missing (the binding's session choice)."""
        ...

    def send(self, path: str, messages: Sequence[OutgoingMessage]) -> list[int]:
        """Enqueue in one transaction (a missing entity is created as a queue); a topic copies each message to the
        subscriptions whose rules match. The sequence numbers given (0 for a duplicate dropped, or a topic copy)."""
        ...

    def receive(self, path: str, max_messages: int, session: SessionLock | None = None) -> list[BusMessage]:
        """Peek-lock up to ``max_messages`` available messages in sequence order (of one session when the entity
        requires sessions: ``session`` is then required and must be held)."""
        ...

    def settle(self, path: str, lock_tokens: Sequence[str], action: Literal["complete", "abandon"]) -> list[bool]:
        """Complete (delete) or abandon (unlock; dead-letter at max delivery count) held messages; False where the
        lock was lost."""
        ...

    def dead_letter(self, path: str, lock_token: str, reason: str, description: str = "") -> bool:
        """Move a held message to the dead-letter queue; False when the lock was lost."""
        ...

    def renew(self, path: str, lock_token: str) -> float | None:
        """Extend a held message's lock by the entity's lock duration; the new locked-until, None when lost."""
        ...


class ServiceBusSessions(Protocol):
    def accept_session(self, path: str, session_id: str | None = None) -> SessionLock | None:
        """Lock the named session, or the one whose oldest available message is oldest; None when none is free."""
        ...

    def renew_session(self, lock: SessionLock) -> SessionLock | None:
        """Extend a held session lock; None when it was lost."""
        ...

    def release_session(self, lock: SessionLock) -> None:
        """Let another receiver accept the session (its held messages come back)."""
        ...


class ServiceBusAdmin(Protocol):
    def entities(self) -> list[EntityCounts]:
        """Every entity with its active, dead-lettered and scheduled message counts, by path."""
        ...

    def peek(self, path: str, max_messages: int, from_sequence: int = 0) -> list[BusMessage]:
        """Messages (active and scheduled; or dead-lettered for a ``$deadletterqueue`` path) in sequence order,
        without locking them."""
        ...

    def purge(self, path: str) -> int:
        """Delete every message of the path (or of its dead-letter queue); how many."""
        ...

    def resubmit(self, path: str, sequence_numbers: Sequence[int] | None = None) -> int:
        """Send dead-lettered messages of ``path`` back to it (all when None) as new messages; how many."""
        ...

    def close(self) -> None: ...


class ServiceBusBackend(ServiceBusStore, ServiceBusSessions, ServiceBusAdmin, ChangeSource, Protocol):
    """What ``open_servicebus`` returns. Its changes (:mod:`overcast.backends.changes`) are named by the entity path
    sent to (a queue or a topic; a subscription for a resubmit or an abandon): messages available now."""


# -- helpers every backend shares ---------------------------------------------------------------------------------


def normalize(path: str) -> str:
    return path.strip().strip("/").lower()


def split_dead_letter(path: str) -> tuple[str, bool]:
    """(the entity's path, whether ``path`` names its dead-letter queue)."""
    path = normalize(path)
    if path.endswith(DEAD_LETTER_SUFFIX):
        return path[: -len(DEAD_LETTER_SUFFIX)], True
    return path, False


def subscription_path(topic: str, subscription: str) -> str:
    return normalize(f"{topic}/subscriptions/{subscription}")


def topic_of(path: str) -> str | None:
    """The topic of a subscription path, None for other paths."""
    head, sep, _ = path.partition("/subscriptions/")
    return head if sep else None


def new_lock_token() -> str:
    return str(uuid.uuid4())


def new_message_id() -> str:
    return uuid.uuid4().hex


def lock_nonce() -> str:
    return secrets.token_hex(8)


def expires_at(message: OutgoingMessage, enqueued: float, entity: EntityProperties) -> float | None:
    """The broker caps a message's time-to-live at its entity's default."""
    ttls = [t for t in (message.time_to_live, entity.default_ttl) if t is not None]
    return enqueued + min(ttls) if ttls else None


def system_properties(message: OutgoingMessage, sequence_number: int = 0, enqueued: float = 0.0,
                      delivery_count: int = 0) -> dict[str, Any]:
    """The ``sys.`` properties SQL filters and correlation filters see."""
    found: dict[str, Any] = {
        "MessageId": message.message_id, "CorrelationId": message.correlation_id, "Label": message.subject,
        "To": message.to, "ReplyTo": message.reply_to, "ContentType": message.content_type,
        "SessionId": message.session_id, "ReplyToSessionId": message.reply_to_session_id,
        "PartitionKey": message.partition_key, "SequenceNumber": sequence_number, "DeliveryCount": delivery_count,
        "Size": len(message.body),
    }
    return {k: v for k, v in found.items() if v is not None}


_SYS_FIELDS = {"messageid": "message_id", "correlationid": "correlation_id", "label": "subject",
               "subject": "subject", "to": "to", "replyto": "reply_to", "contenttype": "content_type",
               "sessionid": "session_id", "replytosessionid": "reply_to_session_id",
               "partitionkey": "partition_key"}


class CompiledRule:
    def __init__(self, rule: Rule) -> None:
        self.name = rule.name
        if rule.correlation is not None:
            self.matches: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = correlation_filter(
                rule.correlation)
        else:
            self.matches = parse_sql_filter(rule.sql or "1=1")
        self.action = parse_sql_action(rule.action) if rule.action and rule.action.strip() else None


_compiled: dict[tuple[str, str | None, str, str | None], CompiledRule] = {}


def compile_rule(rule: Rule) -> CompiledRule:
    """The rule parsed once per process (raises ConfigError when its filter or action does not parse)."""
    key = (rule.name, rule.sql, json.dumps(rule.correlation, sort_keys=True, default=str), rule.action)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = CompiledRule(rule)
    return found


def route(rules: Sequence[Rule], message: OutgoingMessage) -> list[OutgoingMessage]:
    """The copies a subscription with ``rules`` gets of ``message``: one for the matching rules without an action,
    one per matching rule with an action (with ``RuleName``)."""
    sys_props = system_properties(message)
    user = dict(message.application_properties)
    copies: list[OutgoingMessage] = []
    plain = False
    for rule in rules:
        compiled = compile_rule(rule)
        if not compiled.matches(sys_props, user):
            continue
        if compiled.action is None:
            plain = True
            continue
        new_sys, new_user = dict(sys_props), dict(user)
        compiled.action(new_sys, new_user)
        new_user["RuleName"] = rule.name
        changes: dict[str, Any] = {attr: new_sys.get(name) for name, attr in
                   ((k, _SYS_FIELDS[k.lower()]) for k in {*sys_props, *new_sys} if k.lower() in _SYS_FIELDS)}
        copies.append(replace(message, application_properties=new_user, **changes))
    if plain:
        copies.insert(0, message)
    return copies


def encode_message(message: OutgoingMessage) -> str:
    """A message's properties (not its body) as the JSON every persistent backend stores."""
    fields = {
        "message_id": message.message_id, "session_id": message.session_id, "content_type": message.content_type,
        "correlation_id": message.correlation_id, "subject": message.subject, "to": message.to,
        "reply_to": message.reply_to, "reply_to_session_id": message.reply_to_session_id,
        "partition_key": message.partition_key, "time_to_live": message.time_to_live,
        "scheduled_enqueue_time": message.scheduled_enqueue_time,
        "application_properties": dict(message.application_properties),
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None and v != {}}, separators=(",", ":"))


def decode_message(properties: str, body: bytes) -> OutgoingMessage:
    fields = json.loads(properties)
    return OutgoingMessage(body=body, **fields)


def encode_rules(rules: Sequence[Rule]) -> str:
    return json.dumps([{"name": r.name, "sql": r.sql, "correlation": dict(r.correlation) if r.correlation else None,
                        "action": r.action} for r in rules])


def decode_rules(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(d["name"], d.get("sql"), d.get("correlation"), d.get("action")) for d in json.loads(text))


def encode_properties(props: EntityProperties) -> str:
    return json.dumps(props.__dict__)


def decode_properties(text: str) -> EntityProperties:
    return EntityProperties(**json.loads(text))
