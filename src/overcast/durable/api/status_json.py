"""The status JSON of the durable HTTP API (``StatusResponsePayload``, spec §6.5), built from a stored instance.

``input``/``output``/``customStatus`` are stored as JSON text and shown as the value it holds; text that is not JSON
(a terminate reason) is shown as the raw string, as the extension's ``ParseToJToken`` does. Times use .NET's ``s``
format plus ``Z`` (whole seconds). ``historyEvents`` is the extension's cleaned-up history (``history_events``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from overcast.config import json_text
from overcast.durable.core.history import EventType
from overcast.durable.core.model import RuntimeStatus
from overcast.durable.store import PENDING, InstanceRecord

# EventType value -> its DTFx name ("TaskScheduled"), the form historyEvents shows.
EVENT_NAMES = {int(kind): "".join(part.capitalize() for part in kind.name.split("_")) for kind in EventType}
_COMPLETIONS = {
    EventType.TASK_COMPLETED: EventType.TASK_SCHEDULED,
    EventType.TASK_FAILED: EventType.TASK_SCHEDULED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
}
# Completions whose Result is shown (parsed) only with showHistoryOutput; failures carry Reason/Details instead.
_RESULT_EVENTS = frozenset({EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                            EventType.EXECUTION_COMPLETED})


def format_status_time(seconds: float) -> str:
    """Epoch seconds as .NET ``ToString("s") + "Z"``: ``2024-01-01T00:00:05Z`` (the fraction is dropped)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_stored(text: str | None) -> Any:
    """Stored JSON text as the value it holds; text that is not JSON comes back trimmed, as a string."""
    if text is None:
        return None
    trimmed = text.strip()
    if not trimmed:
        return ""
    try:
        # NaN/Infinity are not JSON: showing them as text keeps the response valid JSON.
        return json_text.loads(trimmed, parse_constant=_no_constants)
    except ValueError:
        return trimmed


def status_payload(
    record: InstanceRecord,
    history: Sequence[Mapping[str, Any]] | None = None,
    *,
    show_input: bool = True,
    show_history_output: bool = False,
) -> dict[str, Any]:
    """The StatusResponsePayload of ``record``; ``historyEvents`` only when ``history`` is given.

    The extension reads no history for a Pending instance, so none is shown for one even when asked.
    """
    payload: dict[str, Any] = {
        "name": record.name,
        "instanceId": record.instance_id,
        "runtimeStatus": record.runtime_status,
        "input": parse_stored(record.input) if show_input else None,
        "customStatus": parse_stored(record.custom_status),
        "output": parse_stored(record.output),
        "createdTime": format_status_time(record.created_time),
        "lastUpdatedTime": format_status_time(record.last_updated_time),
    }
    if history is not None and record.runtime_status != PENDING:
        payload["historyEvents"] = history_events(
            history, show_input=show_input, show_history_output=show_history_output
        )
    return payload


def history_events(
    history: Sequence[Mapping[str, Any]], *, show_input: bool = True, show_history_output: bool = False
) -> list[dict[str, Any]]:
    """The extension's shaping of a history for the status API (``GetDurableOrchestrationStatusAsync``).

    * OrchestratorStarted/Completed rows go; a TaskScheduled or SubOrchestrationInstanceCreated row goes when a
      completion answers it (pending work stays visible);
    * completion rows gain ``FunctionName`` and ``ScheduledTime`` (and ``Input`` with ``show_input``) from the row
      they answer, and lose ``TaskScheduledId``;
    * ``EventType`` and ``OrchestrationStatus`` become names; ``EventId``, ``IsPlayed``, ``TimerId`` and the
      scheduling ``Version`` are dropped; ``Input`` only with ``show_input``;
    * ``Result`` of successful completions only with ``show_history_output``, parsed as in the status.
    """
    rows: list[dict[str, Any] | None] = []
    scheduled: dict[tuple[int, Any], _Scheduled] = {}  # by (scheduling EventType, EventId)
    for original in history:
        row = dict(original)
        kind = row.get("EventType")
        if not isinstance(kind, int) or isinstance(kind, bool) or kind not in EVENT_NAMES:
            rows.append(row)  # unknown to us: shown as stored, as the extension does with what it cannot parse
            continue
        row["EventType"] = EVENT_NAMES[kind]
        if kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            rows.append(None)
            continue
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[(kind, row.get("EventId"))] = _Scheduled(len(rows), row)
            row.pop("Version", None)
        elif kind in _COMPLETIONS:
            _aggregate(row, rows, scheduled, _COMPLETIONS[EventType(kind)], show_input)
        elif kind == EventType.EXECUTION_STARTED:
            row["FunctionName"] = row.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                row.pop(key, None)
        elif kind == EventType.EXECUTION_COMPLETED:
            row["OrchestrationStatus"] = _status_name(row.get("OrchestrationStatus"))
        elif kind == EventType.TIMER_FIRED:
            row.pop("TimerId", None)
        if kind in _RESULT_EVENTS:
            if show_history_output:
                row["Result"] = parse_stored(row.get("Result"))
            else:
                row.pop("Result", None)
        if not show_input:
            row.pop("Input", None)
        row.pop("EventId", None)
        row.pop("IsPlayed", None)
        rows.append(row)
    return [row for row in rows if row is not None]


class _Scheduled:
    """Where a scheduling row is, and what a completion copies from it (read before the row is trimmed)."""

    def __init__(self, index: int, row: Mapping[str, Any]) -> None:
        self.index = index
        self.time = row.get("Timestamp")
        self.name = row.get("Name")
        self.input = row.get("Input")


def _aggregate(
    row: dict[str, Any],
    rows: list[dict[str, Any] | None],
    scheduled: dict[tuple[int, Any], _Scheduled],
    scheduling_kind: EventType,
    show_input: bool,
) -> None:
    """Fold the scheduling row this completion answers into it, and drop that row."""
    source = scheduled.get((int(scheduling_kind), row.pop("TaskScheduledId", None)))
    if source is None:
        return
    row["ScheduledTime"] = source.time
    row["FunctionName"] = source.name
    if show_input:
        row["Input"] = source.input
    rows[source.index] = None


def _status_name(code: Any) -> Any:
    if isinstance(code, int) and not isinstance(code, bool):
        try:
            return RuntimeStatus.from_code(code).value
        except ValueError:
            return code
    return code
