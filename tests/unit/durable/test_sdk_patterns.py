"""Every orchestration pattern end to end: the REAL SDK replays, the pure core decides, the harness simulates work.

If the episode's sequence ids, history layout or context JSON disagreed with the SDK, results would go to the wrong
task, the SDK would fail, or the run would hang; these tests would then fail on output, status or history.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from overcast.durable.core.context_json import ContextSettings
from overcast.durable.core.history import EventType, parse_timestamp
from overcast.durable.core.model import RuntimeStatus

from .harness import T0, Harness, episodes


def hello(name: str) -> str:
    return f"Hello {name}!"


def chain(context: Any) -> Any:
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("hello", "Seattle")
    context.set_custom_status({"done": 2})
    third = yield context.call_activity("hello", "London")
    return [first, second, third]


CHAIN_EPISODES = [
    ["Started chain", "TaskScheduled#0 hello"],
    ["TaskCompleted 0", "TaskScheduled#1 hello"],
    ["TaskCompleted 1", "TaskScheduled#2 hello"],
    ["TaskCompleted 2", "Completed#3 1"],
]


def _schema_v1(context: dict[str, Any]) -> None:
    context["upperSchemaVersion"] = 0
    del context["upperSchemaVersionNew"]


def _schema_v2(context: dict[str, Any]) -> None:
    del context["upperSchemaVersionNew"]


@pytest.mark.parametrize(("patch", "schema"), [(None, 2), (_schema_v2, 1), (_schema_v1, None)])
def test_chain_under_every_replay_schema(patch: Any, schema: int | None) -> None:
    harness = Harness({"chain": chain}, {"hello": hello}, context_patch=patch)
    harness.start("chain")
    instance = harness.run()["inst"]
    assert instance.status is RuntimeStatus.COMPLETED
    assert instance.output_value == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert instance.custom_status_value == {"done": 2}
    assert episodes(instance.history) == CHAIN_EPISODES
    assert {response.schema_version for response in instance.responses} == {schema}


def test_context_marks_replay_and_played_events() -> None:
    harness = Harness({"chain": chain}, {"hello": hello})
    harness.start("chain")
    contexts = harness.run()["inst"].contexts
    assert [context["isReplaying"] for context in contexts] == [False, True, True, True]
    last = contexts[-1]["history"]
    boundary = max(i for i, event in enumerate(last) if event["EventType"] == EventType.ORCHESTRATOR_STARTED)
    assert all(event["IsPlayed"] for event in last[:boundary])
    assert not any(event["IsPlayed"] for event in last[boundary:])
    assert contexts[0]["upperSchemaVersion"] == 1 and contexts[0]["upperSchemaVersionNew"] == 2


def replay_probe(context: Any) -> Any:
    seen = [context.is_replaying]
    yield context.call_activity("hello", "a")
    seen.append(context.is_replaying)
    yield context.call_activity("hello", "b")
    seen.append(context.is_replaying)
    return seen


def test_is_replaying_as_the_code_sees_it() -> None:
    harness = Harness({"probe": replay_probe}, {"hello": hello})
    harness.start("probe", instance_id="p")
    # Final episode: the start and the first yield are replays; code after the new completion is not.
    assert harness.run()["p"].output_value == [True, True, False]


def fan_out(context: Any) -> Any:
    count = context.get_input()["n"]
    squares = yield context.task_all([context.call_activity("square", k) for k in range(count)])
    return (yield context.call_activity("add_all", squares))


def test_fan_out_fan_in_with_out_of_order_completion() -> None:
    # square(k) takes 10-k seconds, so completions arrive 2, 1, 0.
    harness = Harness(
        {"fan_out": fan_out},
        {"square": lambda k: k * k, "add_all": sum},
        activity_delay=lambda name, value: timedelta(seconds=10 - value if name == "square" else 1),
    )
    harness.start("fan_out", {"n": 3})
    instance = harness.run()["inst"]
    assert instance.output_value == 5
    assert episodes(instance.history) == [
        ["Started fan_out", "TaskScheduled#0 square", "TaskScheduled#1 square", "TaskScheduled#2 square"],
        ["TaskCompleted 2"],
        ["TaskCompleted 1"],
        ["TaskCompleted 0", "TaskScheduled#3 add_all"],
        ["TaskCompleted 3", "Completed#4 1"],
    ]
    assert instance.contexts[0]["input"] == '{"n": 3}'  # the SDK's text, passed through as a JSON string


def explode(value: Any) -> Any:
    raise RuntimeError(f"boom {value}")


def fan_out_failing(context: Any) -> Any:
    results = yield context.task_all([context.call_activity("slow", 1), context.call_activity("explode", "y")])
    return results


def test_task_all_fails_fast_and_the_instance_fails_with_the_hosts_reason() -> None:
    harness = Harness(
        {"fan": fan_out_failing},
        {"slow": lambda v: v, "explode": explode},
        activity_delay=lambda name, value: timedelta(seconds=100 if name == "slow" else 1),
    )
    harness.start("fan")
    instance = harness.run()["inst"]
    assert instance.status is RuntimeStatus.FAILED
    assert instance.output is not None
    assert instance.output.startswith(
        "Orchestrator function 'fan' failed: Activity function 'explode' failed:  RuntimeError: boom y \n "
    )
    assert episodes(instance.history)[-1] == ["TaskFailed 1", "Completed#2 3"]
    completed = instance.history[-1]
    assert completed["Result"] == instance.output
    assert completed["FailureDetails"]["ErrorMessage"] == instance.output


def first_of_two(context: Any) -> Any:
    fast, slow = context.call_activity("hello", "fast"), context.call_activity("hello", "slow")
    winner = yield context.task_any([fast, slow])
    return winner.result


def test_task_any_returns_the_winner_but_stays_running_until_the_loser_finishes() -> None:
    harness = Harness(
        {"race": first_of_two},
        {"hello": hello},
        activity_delay=lambda name, value: timedelta(seconds=1 if value == "fast" else 50),
    )
    harness.start("race")
    instance = harness.run()["inst"]
    assert [outcome.status for outcome in instance.outcomes] == [
        RuntimeStatus.RUNNING,
        RuntimeStatus.RUNNING,  # done, but the slow activity is still an open task (Decision 2)
        RuntimeStatus.COMPLETED,
    ]
    assert instance.output_value == "Hello fast!"
    assert episodes(instance.history)[1:] == [["TaskCompleted 0"], ["TaskCompleted 1", "Completed#2 1"]]


def short_timer(context: Any) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=2))
    return context.current_utc_datetime.isoformat()


def test_timer_fires_at_its_time_and_time_moves_on() -> None:
    harness = Harness({"short_timer": short_timer})
    harness.start("short_timer")
    instance = harness.run()["inst"]
    assert instance.output_value == "2024-01-01T00:00:02+00:00"
    assert episodes(instance.history) == [["Started short_timer", "TimerCreated#0"], ["TimerFired 0", "Completed#1 1"]]
    created = next(e for e in instance.history if e["EventType"] == EventType.TIMER_CREATED)
    assert created["FireAt"] == "2024-01-01T00:00:02.0000000Z"


def long_timer(context: Any) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(days=10))
    return "woke"


@pytest.mark.parametrize(
    ("settings", "fire_days"),
    [
        (ContextSettings(), [3, 6, 10]),  # 6 d max short timer, 3 d interval: sub-timers +3 d, +6 d, then +10 d
        (ContextSettings(maximum_short_timer=None, long_timer_interval=None), [10]),  # splitting disabled
    ],
)
def test_long_timer_is_split_as_the_sdk_expects(settings: ContextSettings, fire_days: list[int]) -> None:
    harness = Harness({"long_timer": long_timer}, settings=settings)
    harness.start("long_timer")
    instance = harness.run()["inst"]
    assert instance.output_value == "woke"
    fire_times = [parse_timestamp(e["FireAt"]) for e in instance.history if e["EventType"] == EventType.TIMER_CREATED]
    assert fire_times == [T0 + timedelta(days=days) for days in fire_days]
    assert harness.clock == T0 + timedelta(days=10)


def approval(context: Any) -> Any:
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"approved": event.result}
    return "timed out"


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("Approval", json.dumps({"ok": True}), {"approved": {"ok": True}}),  # a JSON body posted to the raw API
        ("Approval", json.dumps(json.dumps({"ok": True})), {"approved": '{"ok": true}'}),  # the Python client (D1)
        ("approval", json.dumps(True), "timed out"),  # event names are case-sensitive
    ],
)
def test_external_event_encoding_and_names(name: str, payload: str, expected: Any) -> None:
    harness = Harness({"approval": approval})
    harness.start("approval")
    harness.raise_event("inst", name, payload, at=T0 + timedelta(seconds=5))
    instance = harness.run()["inst"]
    assert instance.status is RuntimeStatus.COMPLETED
    assert instance.output_value == expected


def test_cancelled_timeout_timer_lets_the_instance_complete_at_once() -> None:
    harness = Harness({"approval": approval})
    harness.start("approval")
    harness.raise_event("inst", "Approval", "true", at=T0 + timedelta(seconds=5))
    instance = harness.run()["inst"]
    assert episodes(instance.history) == [
        ["Started approval", "TimerCreated#0"],
        ["EventRaised Approval", "Completed#1 1"],
    ]
    assert instance.outcomes[-1].canceled_timer_ids == (0,)


def approval_without_cancel(context: Any) -> Any:
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timeout])
    return winner == event


def test_uncancelled_timer_keeps_the_instance_running_until_it_fires() -> None:
    harness = Harness({"approval": approval_without_cancel})
    harness.start("approval")
    harness.raise_event("inst", "Approval", "true", at=T0 + timedelta(seconds=5))
    instance = harness.run()["inst"]
    assert [outcome.status for outcome in instance.outcomes] == [
        RuntimeStatus.RUNNING,
        RuntimeStatus.RUNNING,
        RuntimeStatus.COMPLETED,
    ]
    assert instance.output_value is True
    assert harness.clock == T0 + timedelta(seconds=30)


def late_waiter(context: Any) -> Any:
    yield context.call_activity("hello", "first")
    value = yield context.wait_for_external_event("Go")
    return value


def test_event_raised_before_the_wait_is_buffered() -> None:
    harness = Harness({"late": late_waiter}, {"hello": hello}, activity_delay=lambda n, v: timedelta(seconds=60))
    harness.start("late")
    harness.raise_event("inst", "Go", json.dumps("now"), at=T0 + timedelta(seconds=1))
    instance = harness.run()["inst"]
    assert instance.output_value == "now"
    assert episodes(instance.history) == [
        ["Started late", "TaskScheduled#0 hello"],
        ["EventRaised Go"],
        ["TaskCompleted 0", "Completed#1 1"],
    ]
