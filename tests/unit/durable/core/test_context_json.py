"""The orchestrator context JSON (spec §2.1), checked against the real SDK's own parsing."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.utils.json_utils import parse_timespan_attrib

from overcast.durable.core import history as h
from overcast.durable.core.context_json import ContextSettings, build_context, format_timespan, orchestrator_input
from overcast.durable.core.episode import prepare
from overcast.durable.core.model import EpisodeInput, InstanceSnapshot, ParentInstance

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def context_for(stored_input: str | None, settings: ContextSettings | None = None, **instance: Any) -> dict[str, Any]:
    snapshot = InstanceSnapshot(instance.get("instance_id", "i"), "e", "orch", parent=instance.get("parent"))
    started = h.execution_started(name="orch", instance_id="i", execution_id="e", input_json=stored_input, now=NOW)
    prepared = prepare(EpisodeInput(snapshot, [], [started], NOW))
    return json.loads(build_context(prepared, settings or ContextSettings()))


@pytest.mark.parametrize(
    ("stored", "sent", "user_value"),
    [
        (h.encode_input('{"n": 3}'), '{"n": 3}', {"n": 3}),  # what every SDK-sent input looks like
        (h.encode_input('"Tokyo"'), '"Tokyo"', "Tokyo"),
        ('{"n": 3}', {"n": 3}, {"n": 3}),  # a JSON object posted to the raw HTTP API
        ("5", "5", 5),  # a number would break get_input(); re-encoded (Decision 4)
        ("[1, 2]", "[1, 2]", [1, 2]),
        ("true", "true", True),
        ("not json", '"not json"', "not json"),
        ("null", None, None),
        (None, None, None),
    ],
)
def test_input_is_what_get_input_can_decode(stored: str | None, sent: Any, user_value: Any) -> None:
    context = context_for(stored)
    assert context["input"] == sent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's one-time "no expected_type" advisory
        assert DurableOrchestrationContext.from_json(json.dumps(context)).get_input() == user_value


def test_context_keys_and_first_episode_flags() -> None:
    parent = ParentInstance("p", "p-1", "pe", 0)
    context = context_for(None, instance_id="child", parent=parent)
    assert context["instanceId"] == "child" and context["parentInstanceId"] == "p-1"
    assert context["isReplaying"] is False
    assert (context["upperSchemaVersion"], context["upperSchemaVersionNew"]) == (1, 2)
    assert context["maximumShortTimerDuration"] == "6.00:00:00"
    assert context["longRunningTimerIntervalDuration"] == "3.00:00:00"
    assert context["defaultHttpAsyncRequestSleepTimeMillseconds"] == 30000
    assert [event["EventType"] for event in context["history"]] == [12, 0]
    sdk = DurableOrchestrationContext.from_json(json.dumps(context))
    assert sdk.parent_instance_id == "p-1" and sdk.current_utc_datetime == NOW
    assert sdk._replay_schema.value == 2  # V3: long timers and the newest action format


def test_long_timers_can_be_switched_off() -> None:
    context = context_for(None, ContextSettings(maximum_short_timer=None, long_timer_interval=None))
    assert "maximumShortTimerDuration" not in context and "longRunningTimerIntervalDuration" not in context


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(days=6), "6.00:00:00"),
        (timedelta(hours=1, minutes=2, seconds=3), "01:02:03"),
        (timedelta(seconds=1, microseconds=500), "00:00:01.0005000"),
        (timedelta(days=-1), "-1.00:00:00"),
        (timedelta(0), "00:00:00"),
    ],
)
def test_timespan_format_round_trips_through_the_sdk(span: timedelta, text: str) -> None:
    assert format_timespan(span) == text
    assert parse_timespan_attrib(text) == span


def test_orchestrator_input_of_a_missing_started_event() -> None:
    assert orchestrator_input({}) is None
