"""The status JSON of the durable HTTP API (spec §6.5): values parsed back from JSON text, times, historyEvents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from overcast.durable.api.status_json import (
    EVENT_NAMES,
    format_status_time,
    history_events,
    parse_stored,
    status_payload,
)
from overcast.durable.core import history as h
from overcast.durable.core.model import RuntimeStatus
from overcast.durable.store import InstanceRecord

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(**fields: Any) -> InstanceRecord:
    values: dict[str, Any] = {
        "hub": "Hub", "instance_id": "abc", "name": "chain", "version": None, "execution_id": "e1",
        "runtime_status": "Completed", "input": '"{\\"n\\": 3}"', "output": '["Hello Tokyo!"]',
        "custom_status": '{"n": 1}', "created_time": T0.timestamp(), "last_updated_time": at(5.75).timestamp(),
        "parent": None, "history_length": 0,
    }
    values.update(fields)
    return InstanceRecord(**values)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "1970-01-01T00:00:00Z"),
    (T0.timestamp(), "2024-01-01T00:00:00Z"),
    (at(5.999).timestamp(), "2024-01-01T00:00:05Z"),  # .NET "s": the fraction is dropped, not rounded
])
def test_times_use_the_s_format_with_z(seconds: float, text: str) -> None:
    assert format_status_time(seconds) == text


@pytest.mark.parametrize(("stored", "shown"), [
    (None, None),
    ("", ""),
    ("   ", ""),
    ("5", 5),
    (" 5 ", 5),
    ('{"a": [1, null]}', {"a": [1, None]}),
    ('"{\\"n\\": 3}"', '{"n": 3}'),  # what a Python client's start_new stores: shown as a string
    ("null", None),
    ("stopped by test", "stopped by test"),  # a terminate reason is not JSON: the raw text
    ("  padded reason ", "padded reason"),
    ("NaN", "NaN"),  # not JSON: kept as text so the response stays valid JSON
    ("[1, 2", "[1, 2"),
])
def test_stored_text_is_parsed_back_or_kept_raw(stored: str | None, shown: Any) -> None:
    assert parse_stored(stored) == shown


def test_status_payload_has_the_extension_keys_and_values() -> None:
    payload = status_payload(record())
    assert payload == {
        "name": "chain", "instanceId": "abc", "runtimeStatus": "Completed", "input": '{"n": 3}',
        "customStatus": {"n": 1}, "output": ["Hello Tokyo!"], "createdTime": "2024-01-01T00:00:00Z",
        "lastUpdatedTime": "2024-01-01T00:00:05Z",
    }
    json.dumps(payload)  # serializable as it is


def test_show_input_false_hides_the_input_only() -> None:
    payload = status_payload(record(), show_input=False)
    assert payload["input"] is None and payload["output"] == ["Hello Tokyo!"]


@pytest.mark.parametrize(("status", "history", "has_history"), [
    ("Running", [], True),
    ("Completed", [h.orchestrator_started(T0)], True),
    ("Pending", [h.orchestrator_started(T0)], False),  # the extension reads no history for Pending instances
    ("Running", None, False),
])
def test_history_events_only_when_asked_and_not_pending(
    status: str, history: list[dict[str, Any]] | None, has_history: bool
) -> None:
    assert ("historyEvents" in status_payload(record(runtime_status=status), history)) is has_history


def sample_history() -> list[dict[str, Any]]:
    """Two episodes of a chain with a sub-orchestration and a timer, a pending activity, then completion."""
    events = [
        h.orchestrator_started(at(0)),
        h.execution_started(name="chain", instance_id="abc", execution_id="e1", input_json='"{\\"n\\": 3}"',
                            now=at(0), version="1.0"),
        h.task_scheduled(0, "say", '"Tokyo"', at(0), version="v"),
        h.sub_orchestration_created(1, "child", "abc:1", '"x"', at(0)),
        h.timer_created(2, at(60), at(0)),
        h.orchestrator_completed(at(0)),
        h.orchestrator_started(at(61)),
        h.task_completed(0, '"Hello Tokyo!"', at(1)),
        h.sub_orchestration_completed(1, "[1, 2]", at(2)),
        h.timer_fired(2, at(60), at(61)),
        h.event_raised("approval", '"{\\"ok\\": true}"', at(61)),
        h.task_scheduled(3, "never", '"pending"', at(61)),
        h.task_scheduled(4, "fails", "null", at(61)),
        h.task_failed(4, "Activity function 'fails' failed:  ValueError: no", "Traceback...", at(61)),
        h.orchestrator_completed(at(61)),
        h.execution_completed(5, RuntimeStatus.COMPLETED, '["done"]', at(62)),
    ]
    for event in events:
        event["IsPlayed"] = True
    return events


def test_history_is_shaped_as_the_extension_shapes_it() -> None:
    rows = history_events(sample_history(), show_input=True, show_history_output=True)
    assert [row["EventType"] for row in rows] == [
        "ExecutionStarted", "TimerCreated", "TaskCompleted", "SubOrchestrationInstanceCompleted", "TimerFired",
        "EventRaised", "TaskScheduled", "TaskFailed", "ExecutionCompleted",
    ]
    started, timer, done, child, fired, raised, pending, failed, completed = rows
    assert started == {"EventType": "ExecutionStarted", "Timestamp": h.format_timestamp(at(0)),
                       "Input": '"{\\"n\\": 3}"', "Correlation": None, "ScheduledStartTime": None,
                       "Generation": 0, "FunctionName": "chain"}
    assert timer == {"EventType": "TimerCreated", "Timestamp": h.format_timestamp(at(0)),
                     "FireAt": h.format_timestamp(at(60))}
    assert done == {"EventType": "TaskCompleted", "Timestamp": h.format_timestamp(at(1)),
                    "Result": "Hello Tokyo!", "ScheduledTime": h.format_timestamp(at(0)), "FunctionName": "say",
                    "Input": '"Tokyo"'}
    assert child["FunctionName"] == "child" and child["Result"] == [1, 2] and "TaskScheduledId" not in child
    assert "TimerId" not in fired and fired["FireAt"] == h.format_timestamp(at(60))
    assert raised == {"EventType": "EventRaised", "Timestamp": h.format_timestamp(at(61)), "Name": "approval",
                      "Input": '"{\\"ok\\": true}"'}
    assert pending == {"EventType": "TaskScheduled", "Timestamp": h.format_timestamp(at(61)), "Name": "never",
                       "Input": '"pending"'}  # no completion: the scheduled row stays, without Version
    assert failed["Reason"].startswith("Activity function 'fails'") and failed["FunctionName"] == "fails"
    assert "Result" not in failed
    assert completed["OrchestrationStatus"] == "Completed" and completed["Result"] == ["done"]


@pytest.mark.parametrize(("show_input", "show_output"), [(True, True), (True, False), (False, True), (False, False)])
def test_input_and_result_follow_the_flags(show_input: bool, show_output: bool) -> None:
    rows = history_events(sample_history(), show_input=show_input, show_history_output=show_output)
    assert any("Input" in row for row in rows) is show_input
    results = [row for row in rows if row["EventType"] in ("TaskCompleted", "ExecutionCompleted",
                                                           "SubOrchestrationInstanceCompleted")]
    assert all(("Result" in row) is show_output for row in results)
    assert not any(key in row for row in rows for key in ("EventId", "IsPlayed", "TimerId", "TaskScheduledId"))


def test_unknown_event_types_pass_through_untouched() -> None:
    odd = {"EventType": 99, "EventId": -1, "IsPlayed": True, "Timestamp": "x"}
    assert history_events([odd]) == [odd]


def test_rewound_and_suspension_events_get_names() -> None:
    rows = history_events([h.execution_suspended("why", T0), h.execution_resumed(None, T0),
                           {"EventType": 21, "EventId": -1, "IsPlayed": False, "Timestamp": "t", "Reason": "r"}])
    assert [row["EventType"] for row in rows] == ["ExecutionSuspended", "ExecutionResumed", "ExecutionRewound"]
    assert EVENT_NAMES[16] == "ContinueAsNew" and EVENT_NAMES[7] == "SubOrchestrationInstanceCreated"
