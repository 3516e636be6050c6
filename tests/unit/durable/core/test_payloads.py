"""Durable payload limits: the checks themselves, and what an episode does with a payload over them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from overcast.durable.core import history as h
from overcast.durable.core import payloads
from overcast.durable.core.actions import CallActivity, CallEntity, CallSubOrchestrator, ContinueAsNew, CreateTimer
from overcast.durable.core.actions import response_from_return as parse
from overcast.durable.core.episode import finish, prepare
from overcast.durable.core.model import EpisodeInput, InstanceSnapshot, RuntimeStatus

from ..harness import T0

LIMIT = 1000
INSTANCE = InstanceSnapshot("inst", "exec", "orch")


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        (None, False),
        ("a" * LIMIT, False),
        ("a" * (LIMIT + 1), True),
        ("é" * (LIMIT // 2), False),  # 2 bytes each in UTF-8: exactly the limit
        ("é" * (LIMIT // 2 + 1), True),
        ("€" * 300, False),  # 900 bytes
        ("€" * 334, True),  # 1,002 bytes though only 334 characters
    ],
)
def test_the_limit_counts_utf8_bytes_of_the_json_text(text: str | None, refused: bool) -> None:
    problem = payloads.too_large("orchestration input", text, LIMIT)
    assert (problem is not None) is refused
    if refused:
        assert problem is not None
        assert "orchestration input" in problem and f"{LIMIT:,} bytes" in problem and payloads.SETTING in problem


@pytest.mark.parametrize(
    ("characters", "refused"),
    [(0, False), (8 * 1024, False), (17 * 512 - 1, False), (17 * 512, True), (100_000, True)],
)
def test_custom_status_follows_the_extension_rule(characters: int, refused: bool) -> None:
    # The extension refuses when floor(UTF-16 bytes / 1024) > 16: up to 17 KiB - 1 byte passes.
    problem = payloads.custom_status_problem(json.dumps("s" * max(characters - 2, 0)) if characters else None)
    assert (problem is not None) is refused
    if refused:
        assert problem is not None and problem.startswith(
            "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is ")


@pytest.mark.parametrize(
    ("action", "what"),
    [
        (CallActivity("work", "x" * 2000), "input of activity 'work'"),
        (CallSubOrchestrator("child", "x" * 2000), "input of sub-orchestration 'child'"),
        (CallEntity("@counter@a", "add", "x" * 2000), "input of the operation on entity '@counter@a'"),
        (ContinueAsNew("x" * 2000), "input of continue-as-new"),
    ],
)
def test_new_work_over_the_limit_is_named(action: Any, what: str) -> None:
    small = CallActivity("work", "1")
    assert payloads.action_input_problem([small, CreateTimer(T0), None], LIMIT) is None
    problem = payloads.action_input_problem([small, action], LIMIT)
    assert problem is not None and problem.startswith(f"The {what} is 2,000 bytes")


def episode(response: dict[str, Any]) -> Any:
    started = h.execution_started(name="orch", instance_id="inst", execution_id="exec", input_json=None, now=T0)
    prepared = prepare(EpisodeInput(INSTANCE, [], [started], T0 + timedelta(seconds=1), payload_limit=LIMIT))
    return finish(prepared, parse(json.dumps({"schemaVersion": 2, **response})))


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ({"isDone": True, "actions": [], "output": "o" * 2000}, "The orchestration output is 2,002 bytes"),
        ({"isDone": False, "actions": [[{"actionType": 0, "functionName": "work", "input": "i" * 2000}]]},
         "The input of activity 'work' is 2,000 bytes"),
        ({"isDone": False, "actions": [], "customStatus": "c" * 9000},
         "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB"),
    ],
)
def test_an_orchestration_over_a_limit_fails_with_a_clear_reason(response: dict[str, Any], reason: str) -> None:
    outcome = episode(response)
    assert outcome.status is RuntimeStatus.FAILED
    assert outcome.output is not None and outcome.output.startswith("Orchestrator function 'orch' failed: " + reason)
    assert outcome.work == ()  # nothing over the limit was scheduled


def test_payloads_within_the_limit_go_through() -> None:
    outcome = episode({"isDone": True, "actions": [], "output": "o" * 900, "customStatus": "c" * 8000})
    assert outcome.status is RuntimeStatus.COMPLETED and outcome.output == json.dumps("o" * 900)
