"""History event builders: exact field names, timestamps as the host writes them, failure texts (Decision 3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from overcast.durable.core import history as h
from overcast.durable.core.model import FailureDetails, ParentInstance, RuntimeStatus

UTC = timezone.utc
NOW = datetime(2024, 1, 1, 0, 0, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, "2024-01-01T00:00:05.1234560Z"),
        (datetime(2024, 1, 1), "2024-01-01T00:00:00.0000000Z"),  # naive is UTC
        (datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), "2024-01-01T00:00:00.0000000Z"),
    ],
)
def test_format_timestamp(moment: datetime, text: str) -> None:
    assert h.format_timestamp(moment) == text


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-01-01T00:00:05.1234567Z", NOW.replace(microsecond=123456)),
        ("2024-01-01T00:00:05.123456Z", NOW),
        ("2024-01-01T00:00:05Z", NOW.replace(microsecond=0)),
        ("2024-01-01T00:00:05", NOW.replace(microsecond=0)),
        ("2024-01-01T02:00:05+02:00", NOW.replace(microsecond=0)),
        ("2023-12-31T23:00:05-0100", NOW.replace(microsecond=0)),
    ],
)
def test_parse_timestamp(text: str, moment: datetime) -> None:
    assert h.parse_timestamp(text) == moment


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-01-01T00:00"])
def test_parse_timestamp_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not an ISO-8601 timestamp"):
        h.parse_timestamp(text)


def test_every_event_carries_the_four_mandatory_keys_and_the_fields_the_sdk_reads() -> None:
    events = {
        "TaskScheduled": (
            h.task_scheduled(3, "a", '"x"', NOW),
            {"EventId": 3, "Name": "a", "Version": "", "Input": '"x"'},
        ),
        "TaskCompleted": (h.task_completed(3, None, NOW), {"EventId": -1, "TaskScheduledId": 3, "Result": None}),
        "TaskFailed": (h.task_failed(3, "r", "d", NOW), {"TaskScheduledId": 3, "Reason": "r", "Details": "d"}),
        "TimerCreated": (h.timer_created(1, NOW, NOW), {"EventId": 1, "FireAt": "2024-01-01T00:00:05.1234560Z"}),
        "TimerFired": (h.timer_fired(1, NOW, NOW), {"EventId": -1, "TimerId": 1}),
        "SubCreated": (h.sub_orchestration_created(2, "c", "i", None, NOW), {"EventId": 2, "InstanceId": "i"}),
        "SubCompleted": (h.sub_orchestration_completed(2, "1", NOW), {"TaskScheduledId": 2, "Result": "1"}),
        "SubFailed": (h.sub_orchestration_failed(2, "r", None, NOW), {"TaskScheduledId": 2, "Reason": "r"}),
        "EventSent": (h.event_sent(4, "@e@k", "op", "{}", NOW), {"EventId": 4, "InstanceId": "@e@k", "Name": "op"}),
        "EventRaised": (h.event_raised("Go", "1", NOW), {"Name": "Go", "Input": "1"}),
        "Terminated": (h.execution_terminated("why", NOW), {"Input": "why"}),
    }
    for name, (event, expected) in events.items():
        assert {"EventType", "EventId", "IsPlayed", "Timestamp"} <= event.keys(), name
        assert event["IsPlayed"] is False and event["Timestamp"] == "2024-01-01T00:00:05.1234560Z", name
        assert {key: event[key] for key in expected} == expected, name


def test_execution_started_with_parent() -> None:
    parent = ParentInstance("p", "p-1", "p-exec", 4, "v1")
    event = h.execution_started(
        name="child", instance_id="c", execution_id="e", input_json=h.encode_input('{"n": 3}'), now=NOW, parent=parent
    )
    assert event["EventType"] == 0 and event["Input"] == '"{\\"n\\": 3}"'
    assert event["OrchestrationInstance"] == {"InstanceId": "c", "ExecutionId": "e"}
    assert event["ParentInstance"] == {
        "Name": "p",
        "Version": "v1",
        "TaskScheduleId": 4,
        "OrchestrationInstance": {"InstanceId": "p-1", "ExecutionId": "p-exec"},
    }


@pytest.mark.parametrize(
    ("status", "failure", "code", "details"),
    [
        (RuntimeStatus.COMPLETED, None, 1, None),
        (RuntimeStatus.CONTINUED_AS_NEW, None, 2, None),
        (RuntimeStatus.FAILED, FailureDetails("why", "tb"), 3, "tb"),
        (RuntimeStatus.TERMINATED, None, 5, None),
    ],
)
def test_execution_completed(
    status: RuntimeStatus, failure: FailureDetails | None, code: int, details: str | None
) -> None:
    event = h.execution_completed(6, status, "r", NOW, failure)
    assert (event["EventType"], event["EventId"], event["OrchestrationStatus"], event["Result"]) == (1, 6, code, "r")
    assert (event["FailureDetails"] or {}).get("StackTrace") == details


def test_failure_texts() -> None:
    assert h.activity_failed_reason("explode", "RuntimeError: boom y") == (
        "Activity function 'explode' failed:  RuntimeError: boom y"
    )
    assert h.orchestrator_failed_reason("o", "boom") == "Orchestrator function 'o' failed: boom"


@pytest.mark.parametrize(
    ("event", "seq"),
    [
        (h.task_completed(3, None, NOW), 3),
        (h.timer_fired(5, NOW, NOW), 5),
        (h.sub_orchestration_failed(1, "r", None, NOW), 1),
        (h.event_raised("x", None, NOW), None),
        ({"EventType": 5, "TaskScheduledId": "3"}, None),
    ],
)
def test_completed_id(event: dict[str, object], seq: int | None) -> None:
    assert h.completed_id(event) == seq


@pytest.mark.parametrize(
    ("name", "status"), [("running", RuntimeStatus.RUNNING), (" ContinuedAsNew ", RuntimeStatus.CONTINUED_AS_NEW)]
)
def test_runtime_status_names_and_codes(name: str, status: RuntimeStatus) -> None:
    assert RuntimeStatus.from_name(name) is status
    assert RuntimeStatus.from_code(status.code) is status
    with pytest.raises(ValueError, match="is not a runtime status"):
        RuntimeStatus.from_name("Sleeping")
