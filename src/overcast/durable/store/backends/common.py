"""What the durable backends share: argument checks, event encoding, lease tokens and listing pages.

Checks run before any write, so a rejected call changes nothing in any backend.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import TypeVar

from overcast.durable.store import (
    RUNTIME_STATUSES,
    WAKES_SUSPENDED,
    EpisodeCommit,
    EventDict,
    InstanceQuery,
    InstanceRecord,
    NewMessage,
    NewOrchestration,
    OrchestrationLease,
    Page,
    is_entity_id,
)
from overcast.errors import StoreError

T = TypeVar("T")


def new_token() -> str:
    return secrets.token_hex(8)


def encode_event(event: EventDict) -> str:
    """Compact JSON text of an event; StoreError (naming the event type) when it is not JSON-able."""
    if not isinstance(event, dict):
        raise StoreError(f"A durable event must be a dict (a JSON object of §2.2), got {type(event).__name__}.")
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"Durable event of type {event.get('EventType')!r} cannot be stored: {exc}; events must hold only "
            f"JSON values (strings, numbers, booleans, None, lists, dicts)."
        ) from exc


def decode_event(text: str) -> EventDict:
    value: EventDict = json.loads(text)
    return value


def wakes_suspended(event: EventDict) -> bool:
    return event.get("EventType") in WAKES_SUSPENDED


def check_hub(hub: str) -> None:
    if not isinstance(hub, str) or not hub:
        raise StoreError("A durable store call needs a non-empty task hub name.")


def check_lease_request(hub: str, owner: str, duration: float, count: int, what: str) -> None:
    check_hub(hub)
    if not owner:
        raise StoreError("A durable lease needs a non-empty owner (the worker's id).")
    if not duration > 0:
        raise StoreError(f"The durable lease duration must be positive (got {duration} s).")
    if count < 1:
        raise StoreError(f"The number of {what} to lease must be at least 1 (got {count}).")


def check_status(status: str) -> None:
    if status not in RUNTIME_STATUSES:
        raise StoreError(f"Unknown runtime status {status!r}; use one of {', '.join(RUNTIME_STATUSES)}.")


def check_query(hub: str, query: InstanceQuery) -> None:
    check_hub(hub)
    if isinstance(query.runtime_statuses, str):
        raise StoreError(f"runtime_statuses must be a collection of status names, not the string "
                         f"{query.runtime_statuses!r}; write [{query.runtime_statuses!r}].")
    for status in query.runtime_statuses:
        check_status(status)


def check_page_size(top: int) -> None:
    if top < 1:
        raise StoreError(f"The page size 'top' must be at least 1 (got {top}).")


def check_commit(lease: OrchestrationLease, commit: EpisodeCommit) -> None:
    """Reject commits that cannot be right whatever the store holds (before any write)."""
    if lease.instance is None and (commit.events or commit.update or commit.reset or commit.activities or commit.start):
        raise StoreError(
            f"Instance '{lease.instance_id}' does not exist: an episode for its messages may only consume them "
            f"and send messages."
        )
    if commit.reset is not None and commit.update is None:
        raise StoreError(f"Instance '{lease.instance_id}': a history reset needs an InstanceUpdate (the new status).")
    if commit.update is not None:
        check_status(commit.update.runtime_status)
    for start in commit.start:
        check_new_orchestration(start)


def check_new_orchestration(start: NewOrchestration) -> None:
    if not start.instance_id or is_entity_id(start.instance_id):
        raise StoreError(f"Orchestration instance id {start.instance_id!r} must be non-empty and not start with '@'.")
    if not start.name or not start.execution_id:
        raise StoreError(f"Instance '{start.instance_id}' needs an orchestrator name and an execution id.")


def encode_continuation(after: str) -> str:
    """An opaque, header-safe token that resumes a listing after the id ``after``."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode("ascii")


def decode_continuation(token: str | None) -> str | None:
    """The id after which a page starts; StoreError for a token we did not make."""
    if token is None or token == "":
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        after = value["after"]
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        after = None
    if not isinstance(after, str):
        raise StoreError(
            f"The continuation token {token[:40]!r} is not valid; pass the x-ms-continuation-token of the previous "
            f"page unchanged, or none for the first page."
        )
    return after


def page_of(rows: list[T], top: int, key: Callable[[T], str]) -> Page[T]:
    """A page from up to ``top + 1`` rows in listing order: the extra row only tells that another page follows."""
    if len(rows) <= top:
        return Page(rows, None)
    return Page(rows[:top], encode_continuation(key(rows[top - 1])))


def check_message(message: NewMessage) -> str:
    """The encoded event of a message to deliver, after checking its address."""
    if not message.instance_id:
        raise StoreError("A durable message needs the id of the instance or entity it goes to.")
    return encode_event(message.event)


def same_version(current: InstanceRecord | None, leased: InstanceRecord | None) -> bool:
    """Whether the instance is still the one a lease read: same execution, history length and creation.

    The history length is the optimistic-concurrency check of ``commit_episode``: every commit changes it (or the
    execution), so two episodes leased from the same history can never both commit.
    """
    if current is None or leased is None:
        return current is None and leased is None
    return (current.execution_id, current.history_length, current.created_time) == (
        leased.execution_id,
        leased.history_length,
        leased.created_time,
    )


def encoded_start(start: NewOrchestration) -> tuple[str, str | None]:
    """The encoded ExecutionStarted event of a sub-orchestration and of its ``on_conflict`` message."""
    conflict = None if start.on_conflict is None else check_message(start.on_conflict)
    return encode_event(start.started), conflict
