"""Event Grid events, pure: schemas, a trigger invocation's value, subscription filters, retries, dead letters.

An event is a JSON object in the Event Grid schema (``id``, ``subject``, ``eventType``, ``eventTime``,
``dataVersion``, ``data``, ``topic``) or in CloudEvents 1.0 (``specversion``, ``id``, ``source``, ``type``,
``subject``, ``time``, ``data``). The library's converter (``azure.functions.eventgrid``) turns either into the
function's ``func.EventGridEvent`` / ``func.CloudEvent``; the host hands it the event as JSON with the trigger
metadata ``data`` (the event's data), which binding expressions such as ``{data.url}`` read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from overcast.errors import InputError

# Event Grid's retry schedule (docs: "Event Grid message delivery and retry"): after each failed attempt the next
# waits this long; after the last, every 12 hours, until maxDeliveryAttempts or eventTimeToLive ends it.
RETRY_SCHEDULE = (10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0)
RETRY_AFTER_SCHEDULE = 43200.0
DEFAULT_MAX_ATTEMPTS = 30
DEFAULT_TTL_MINUTES = 1440
MAX_ATTEMPTS_LIMIT = 30
# A webhook answering these will not do better on a retry: the delivery is dead-lettered (or dropped) at once.
NO_RETRY_STATUSES = frozenset({400, 401, 403, 413})
SUCCESS_STATUSES = frozenset({200, 201, 202, 203, 204})
EVENT_GRID_SCHEMA = "EventGridSchema"
CLOUD_EVENT_SCHEMA = "CloudEventSchemaV1_0"


def is_cloud_event(event: Mapping[str, Any]) -> bool:
    return "specversion" in event


def parse_events(body: bytes | str, what: str = "The request body") -> list[dict[str, Any]]:
    """An array of events or one event (as the extension accepts), each a JSON object; InputError otherwise."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what} is not JSON: {exc}") from None
    events = parsed if isinstance(parsed, list) else [parsed]
    for event in events:
        if not isinstance(event, dict):
            raise InputError(f"{what} must be a JSON object or an array of objects (events).")
    return events


def validation_code(events: Any) -> str | None:
    """The ``validationCode`` of a subscription validation request: the Event Grid schema sends an array (first
    event's ``data``), CloudEvents one object whose ``data`` may be JSON text (the extension parses it)."""
    try:
        data = events[0]["data"] if isinstance(events, list) else events["data"]
        if isinstance(data, str):
            data = json.loads(data)
        code = data["validationCode"]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return str(code)


def trigger_value(event: Mapping[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(trigger Datum, trigger metadata, binding data) of an invocation for one event, as the host builds them."""
    from azure.functions.meta import Datum

    text = json.dumps(event)
    data = event.get("data")
    metadata = {"data": Datum(json.dumps(data), "json")}
    binding_data: dict[str, Any] = {k: v for k, v in event.items() if not isinstance(v, list) and v is not None}
    binding_data = {k: (v if isinstance(v, dict) else str(v) if not isinstance(v, str) else v)
                    for k, v in binding_data.items()}
    binding_data["data"] = data
    return Datum(text, "json"), metadata, binding_data


def trigger_reason(now: float) -> str:
    return f"EventGrid trigger fired at {datetime.fromtimestamp(now, timezone.utc).isoformat()}"


# -- subscriptions: filters and retries --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    """A subscription's filter (Event Grid's ``filter``): subject prefix / suffix and event types, each optional.

    As Event Grid: the subject filters compare without regard to case unless ``case_sensitive``; an empty or
    missing ``included_event_types`` takes every type (the types compare without regard to case)."""

    subject_begins_with: str = ""
    subject_ends_with: str = ""
    included_event_types: tuple[str, ...] = ()
    case_sensitive: bool = False

    def matches(self, event: Mapping[str, Any]) -> bool:
        subject = str(event.get("subject") or "")
        kind = str(event.get("type") if is_cloud_event(event) else event.get("eventType") or "")
        begins, ends = self.subject_begins_with, self.subject_ends_with
        if not self.case_sensitive:
            subject, begins, ends = subject.lower(), begins.lower(), ends.lower()
        if not subject.startswith(begins) or not subject.endswith(ends):
            return False
        return not self.included_event_types or kind.lower() in {t.lower() for t in self.included_event_types}


def next_retry_delay(attempts: int, schedule: Sequence[float] = RETRY_SCHEDULE) -> float:
    """The wait after the ``attempts``-th failed attempt (1-based)."""
    if attempts <= len(schedule):
        return schedule[max(1, attempts) - 1]
    return RETRY_AFTER_SCHEDULE if schedule is RETRY_SCHEDULE else schedule[-1]


# -- dead letters ------------------------------------------------------------------------------------------------


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def dead_letter_record(event_text: str, reason: str, attempts: int, error: str, status: int | None,
                       published: float, last_attempt: float) -> dict[str, Any]:
    """The event as Event Grid writes it to a dead-letter blob: the event with the delivery's failure fields."""
    try:
        event = json.loads(event_text)
    except ValueError:
        event = {"data": event_text}
    record = dict(event) if isinstance(event, dict) else {"data": event}
    record.update({
        "deadLetterReason": reason,
        "deliveryAttempts": attempts,
        "lastDeliveryOutcome": error or "Unknown",
        "publishTime": iso(published),
        "lastDeliveryAttemptTime": iso(last_attempt),
    })
    if status is not None:
        record["lastHttpStatusCode"] = status
    return record


def dead_letter_blob_name(subscription: str, now: float) -> str:
    """``<SUBSCRIPTION>/<year>/<month>/<day>/<hour>/<guid>.json``: upper-case subscription, unpadded UTC parts."""
    at = datetime.fromtimestamp(now, timezone.utc)
    return f"{subscription.upper()}/{at.year}/{at.month}/{at.day}/{at.hour}/{uuid.uuid4()}.json"


# -- publishing --------------------------------------------------------------------------------------------------


def complete_event(event: dict[str, Any], topic: str, now: float) -> dict[str, Any]:
    """What Event Grid fills in on publish: an Event Grid event gets ``topic`` (and, if missing, ``id``,
    ``eventTime``, ``dataVersion``); a CloudEvent gets ``id`` and ``time`` if missing."""
    if is_cloud_event(event):
        event.setdefault("id", str(uuid.uuid4()))
        event.setdefault("time", iso(now))
        return event
    event["topic"] = topic
    if not event.get("id"):
        event["id"] = str(uuid.uuid4())
    if not event.get("eventTime"):
        event["eventTime"] = iso(now)
    if event.get("dataVersion") is None:
        event["dataVersion"] = ""
    event.setdefault("metadataVersion", "1")
    return event


def check_publishable(event: Mapping[str, Any], index: int) -> None:
    """Event Grid refuses (400) an event without its required properties."""
    required = ("id", "source", "type", "specversion") if is_cloud_event(event) else ("subject", "eventType")
    missing = [name for name in required if not event.get(name)]
    if missing:
        raise InputError(f"Event {index} has no {', '.join(repr(m) for m in missing)}: "
                         f"{'a CloudEvent' if is_cloud_event(event) else 'an Event Grid event'} needs "
                         f"{', '.join(required)}.")
