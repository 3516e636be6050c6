"""Builders for every history event the host appends, in the DTFx wire format the SDK reads (spec §2.2).

Every event has ``EventType`` (int), ``EventId``, ``IsPlayed`` and ``Timestamp``; ``EventId`` is the sequence id for
scheduling events (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated, EventSent, ExecutionCompleted) and
-1 otherwise. Builders set ``IsPlayed`` false; ``episode.prepare`` marks past events as played. Times are written
as .NET round-trip UTC (``2024-01-01T00:00:05.1234560Z``), the form the real host emits.
"""

from __future__ import annotations

import enum
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from overcast.durable.core.model import FailureDetails, HistoryEvent, ParentInstance, RuntimeStatus

HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity"  # what the extension schedules for call_http (§4.5)


class EventType(enum.IntEnum):
    """DTFx ``EventType`` values; append-only, fixed by DTFx."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20
    EXECUTION_REWOUND = 21


SCHEDULING_EVENTS = frozenset(
    {
        EventType.TASK_SCHEDULED,
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        EventType.TIMER_CREATED,
        EventType.EVENT_SENT,
    }
)
# Completion event type -> (key holding the sequence id it completes, whether it is a success)
COMPLETION_EVENTS: dict[int, tuple[str, bool]] = {
    EventType.TASK_COMPLETED: ("TaskScheduledId", True),
    EventType.TASK_FAILED: ("TaskScheduledId", False),
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: ("TaskScheduledId", True),
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: ("TaskScheduledId", False),
    EventType.TIMER_FIRED: ("TimerId", True),
}


# ---- time ------------------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


def format_timestamp(moment: datetime) -> str:
    """.NET round-trip UTC text with seven fraction digits; a naive ``moment`` is taken as UTC."""
    utc = as_utc(moment)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}0Z"


def parse_timestamp(text: str) -> datetime:
    """Parse ISO-8601 as the SDK and .NET write it (1-9 fraction digits, ``Z`` or an offset, naive = UTC).

    Raises ``ValueError`` naming the text when it is not such a timestamp.
    """
    match = _ISO.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 timestamp such as '2024-01-01T00:00:05.0000000Z'")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micro = int((fraction or "0").ljust(6, "0")[:6])
    moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


# ---- reading events ----------------------------------------------------------------------------------------------


def event_type(event: dict[str, Any]) -> int:
    value = event.get("EventType")
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def event_time(event: dict[str, Any]) -> datetime | None:
    try:
        return parse_timestamp(event.get("Timestamp", ""))
    except ValueError:
        return None


def completed_id(event: dict[str, Any]) -> int | None:
    """The sequence id a completion event (TaskCompleted, TimerFired, ...) completes, or None for other events."""
    entry = COMPLETION_EVENTS.get(event_type(event))
    if entry is None:
        return None
    value = event.get(entry[0])
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---- building events ---------------------------------------------------------------------------------------------


def _event(kind: EventType, now: datetime, event_id: int = -1, **fields: Any) -> HistoryEvent:
    timestamp = format_timestamp(now)
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": timestamp, **fields}


def orchestrator_started(now: datetime) -> HistoryEvent:
    return _event(EventType.ORCHESTRATOR_STARTED, now)


def orchestrator_completed(now: datetime) -> HistoryEvent:
    return _event(EventType.ORCHESTRATOR_COMPLETED, now)


def execution_started(
    *,
    name: str,
    instance_id: str,
    execution_id: str,
    input_json: str | None,
    now: datetime,
    version: str = "",
    parent: ParentInstance | None = None,
) -> HistoryEvent:
    """The first message of an execution.

    ``input_json`` is the JSON document whose value the SDK receives as the context ``input``. DTFx stores an input
    text ``T`` sent by the SDK (client start, sub-orchestration, continue-as-new) as ``encode_input(T)``.
    """
    parent_json = None
    if parent is not None:
        parent_json = {
            "Name": parent.name,
            "Version": parent.version,
            "TaskScheduleId": parent.task_schedule_id,
            "OrchestrationInstance": {"InstanceId": parent.instance_id, "ExecutionId": parent.execution_id},
        }
    return _event(
        EventType.EXECUTION_STARTED,
        now,
        Name=name,
        Version=version,
        Input=input_json,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent_json,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=0,
    )


def encode_input(text: str | None) -> str | None:
    """How DTFx stores an SDK-sent input text in ExecutionStarted.Input: as a JSON string (spec §7.3)."""
    return None if text is None else json.dumps(text)


def execution_completed(
    seq: int, status: RuntimeStatus, result: str | None, now: datetime, failure: FailureDetails | None = None
) -> HistoryEvent:
    details = None
    if failure is not None:
        details = {
            "ErrorType": failure.error_type,
            "ErrorMessage": failure.reason,
            "StackTrace": failure.details,
            "InnerFailure": None,
            "IsNonRetriable": False,
        }
    return _event(
        EventType.EXECUTION_COMPLETED, now, seq, OrchestrationStatus=status.code, Result=result, FailureDetails=details
    )


def execution_terminated(reason: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.EXECUTION_TERMINATED, now, Input=reason)


def execution_suspended(reason: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.EXECUTION_SUSPENDED, now, Reason=reason)


def execution_resumed(reason: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.EXECUTION_RESUMED, now, Reason=reason)


def task_scheduled(seq: int, name: str, input_text: str | None, now: datetime, version: str = "") -> HistoryEvent:
    return _event(EventType.TASK_SCHEDULED, now, seq, Name=name, Version=version, Input=input_text)


def task_completed(task_id: int, result: str | None, now: datetime) -> HistoryEvent:
    """``result`` is JSON text (the activity's ``df_dumps`` return value) or None."""
    return _event(EventType.TASK_COMPLETED, now, TaskScheduledId=task_id, Result=result)


def task_failed(task_id: int, reason: str, details: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.TASK_FAILED, now, TaskScheduledId=task_id, Reason=reason, Details=details)


def sub_orchestration_created(
    seq: int, name: str, instance_id: str, input_text: str | None, now: datetime, version: str = ""
) -> HistoryEvent:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        now,
        seq,
        Name=name,
        Version=version,
        InstanceId=instance_id,
        Input=input_text,
    )


def sub_orchestration_completed(task_id: int, result: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, now, TaskScheduledId=task_id, Result=result)


def sub_orchestration_failed(task_id: int, reason: str, details: str | None, now: datetime) -> HistoryEvent:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED, now, TaskScheduledId=task_id, Reason=reason, Details=details
    )


def timer_created(seq: int, fire_at: datetime, now: datetime) -> HistoryEvent:
    return _event(EventType.TIMER_CREATED, now, seq, FireAt=format_timestamp(fire_at))


def timer_fired(timer_id: int, fire_at: datetime, now: datetime) -> HistoryEvent:
    return _event(EventType.TIMER_FIRED, now, TimerId=timer_id, FireAt=format_timestamp(fire_at))


def event_sent(seq: int, instance_id: str, name: str, input_text: str | None, now: datetime) -> HistoryEvent:
    return _event(EventType.EVENT_SENT, now, seq, InstanceId=instance_id, Name=name, Input=input_text)


def event_raised(name: str, input_text: str | None, now: datetime) -> HistoryEvent:
    """An external event or an entity response; ``input_text`` is stored exactly as received (Decision 1)."""
    return _event(EventType.EVENT_RAISED, now, Name=name, Input=input_text)


# ---- failure texts (Decision 3) ------------------------------------------------------------------------------------


def activity_failed_reason(activity_name: str, error: str) -> str:
    """TaskFailed.Reason as the real host writes it, two spaces included: ``error`` is ``"TypeName: message"``."""
    return f"Activity function '{activity_name}' failed:  {error}"


def orchestrator_failed_reason(orchestrator_name: str, error: str) -> str:
    """Status output / ExecutionCompleted.Result / parent Reason of a failed orchestration (spec §3.4)."""
    return f"Orchestrator function '{orchestrator_name}' failed: {error}"
