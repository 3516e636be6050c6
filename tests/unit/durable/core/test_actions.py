"""Parsing OrchestratorState and actions (spec §3.1-3.2): every action type, V1 and V2/V3, malformed input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from overcast.durable.core import actions as act
from overcast.errors import DurableProtocolError

FIRE = datetime(2024, 1, 1, 0, 0, 2, tzinfo=timezone.utc)
RETRY = {"firstRetryIntervalInMilliseconds": 200, "maxNumberOfAttempts": 4}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ({"actionType": 0, "functionName": "a", "input": '"x"'}, act.CallActivity("a", '"x"')),
        (
            {"actionType": 1, "functionName": "a", "input": "1", "retryOptions": RETRY},
            act.CallActivity("a", "1", act.RetryPolicy(200, 4)),
        ),
        (
            {"actionType": 2, "functionName": "c", "input": "null", "instanceId": None, "version": None},
            act.CallSubOrchestrator("c", "null"),
        ),
        (
            {"actionType": 3, "functionName": "c", "input": "2", "instanceId": "k", "retryOptions": RETRY},
            act.CallSubOrchestrator("c", "2", "k", None, act.RetryPolicy(200, 4)),
        ),
        ({"actionType": 4, "input": "[1]"}, act.ContinueAsNew("[1]")),
        ({"actionType": 5, "fireAt": "2024-01-01T00:00:02.000000Z", "isCanceled": True}, act.CreateTimer(FIRE, True)),
        ({"actionType": 6, "externalEventName": "Go", "reason": "ExternalEvent"}, act.WaitForExternalEvent("Go")),
        (
            {"actionType": 7, "instanceId": "@e@k", "operation": "get", "input": "null"},
            act.CallEntity("@e@k", "get", "null"),
        ),
        (
            {"actionType": 8, "httpRequest": {"method": "GET", "uri": "http://x", "content": None, "headers": None}},
            act.CallHttp({"method": "GET", "uri": "http://x", "content": None, "headers": None}),
        ),
        (
            {"actionType": 9, "instanceId": "@e@k", "operation": "add", "input": "5"},
            act.SignalEntity("@e@k", "add", "5"),
        ),
        (
            {
                "actionType": 10,
                "instanceId": "@e@k",
                "operation": "add",
                "input": "5",
                "fireAt": "2024-01-01T00:00:02Z",
            },
            act.SignalEntity("@e@k", "add", "5", FIRE),
        ),
        (
            {"actionType": 12, "compoundActions": [{"actionType": 6, "externalEventName": "a"}]},
            act.WhenAll((act.WaitForExternalEvent("a"),)),
        ),
        ({"actionType": 11, "compoundActions": []}, act.WhenAny(())),
        ({"actionType": 0, "functionName": "a", "input": {"n": 1}, "version": "x"}, act.CallActivity("a", '{"n": 1}')),
    ],
)
def test_every_action_type(raw: dict[str, Any], parsed: act.Action) -> None:
    assert act.parse_action(raw) == parsed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "action: an action must be a JSON object"),
        ({"actionType": 13}, "unknown actionType 13"),
        ({"actionType": True}, "unknown actionType True"),
        ({"actionType": 0, "functionName": ""}, "'functionName' must be a non-empty string"),
        ({"actionType": 1, "functionName": "a"}, "'retryOptions' must be an object"),
        (
            {"actionType": 1, "functionName": "a", "retryOptions": {"firstRetryIntervalInMilliseconds": 0}},
            "firstRetryIntervalInMilliseconds' must be > 0",
        ),
        ({"actionType": 5, "fireAt": "tomorrow"}, "'fireAt': 'tomorrow' is not an ISO-8601 timestamp"),
        ({"actionType": 5, "fireAt": "2024-01-01T00:00:00Z", "isCanceled": "no"}, "'isCanceled' must be true or false"),
        ({"actionType": 8, "httpRequest": {"method": "GET"}}, "'httpRequest.uri' must be a non-empty string"),
        ({"actionType": 12, "compoundActions": [{"actionType": 4, "input": "1"}]}, "ContinueAsNew cannot be part"),
        ({"actionType": 11, "compoundActions": [{"actionType": 99}]}, "action.compoundActions[0]: unknown actionType"),
    ],
)
def test_malformed_actions_name_the_problem(raw: Any, message: str) -> None:
    with pytest.raises(DurableProtocolError) as caught:
        act.parse_action(raw)
    assert message in str(caught.value)


A = {"actionType": 0, "functionName": "a", "input": "1"}
B = {"actionType": 0, "functionName": "b", "input": "2"}
S = {"actionType": 9, "instanceId": "@e@k", "operation": "op", "input": "null"}


@pytest.mark.parametrize(
    ("document", "top"),
    [
        ({"isDone": False, "schemaVersion": 2, "actions": [[A, B]]}, ["a", "b"]),
        ({"isDone": False, "schemaVersion": 1, "actions": [[]]}, []),
        ({"isDone": False, "schemaVersion": 2, "actions": []}, []),
        # V1: one list per yield; a multi-action list is awaited as WhenAny by the extension, signals stay alone
        ({"isDone": False, "actions": [[A], [A, B], [S]]}, ["a", "WhenAny(a,b)", "signal op"]),
    ],
)
def test_schema_v1_and_v2_action_lists(document: dict[str, Any], top: list[str]) -> None:
    response = act.parse_state(document)
    assert [_describe(action) for action in response.actions] == top


def _describe(action: act.Action) -> str:
    if isinstance(action, act.CallActivity):
        return action.name
    if isinstance(action, act.WhenAny):
        return "WhenAny(" + ",".join(_describe(child) for child in action.children) + ")"
    if isinstance(action, act.SignalEntity):
        return f"signal {action.operation}"
    return type(action).__name__


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"isDone": True, "actions": [[]], "schemaVersion": 2, "output": 0}, (True, 0, True, None)),
        ({"isDone": True, "actions": [[]], "schemaVersion": 2}, (True, None, False, None)),
        (
            {"isDone": False, "actions": [[]], "schemaVersion": 2, "customStatus": {"a": 1}},
            (False, None, False, {"a": 1}),
        ),
    ],
)
def test_output_and_custom_status(document: dict[str, Any], expected: tuple[Any, ...]) -> None:
    response = act.response_from_return(json.dumps(document))
    assert (response.is_done, response.output, response.has_output, response.custom_status) == expected
    assert response.error is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"isDone": False, "schemaVersion": 3, "actions": [[]]}, "'schemaVersion' must be absent, 0, 1 or 2"),
        ({"isDone": False, "schemaVersion": 2, "actions": [[], []]}, "must hold one list with schemaVersion 2"),
        ({"isDone": False, "schemaVersion": 2}, "'actions' must be a list of lists"),
        ({"isDone": False, "actions": [A]}, "'actions' must be a list of lists"),
    ],
)
def test_malformed_states(document: dict[str, Any], message: str) -> None:
    response = act.response_from_return(json.dumps(document))
    assert response.error is not None and message in response.error


def test_exception_state_keeps_actions_and_custom_status() -> None:
    state = {"isDone": False, "schemaVersion": 2, "actions": [[A]], "customStatus": "half", "error": "boom"}
    response = act.response_from_exception(f"boom\n\n$OutOfProcData$:{json.dumps(state)}", "tb")
    assert (response.error, response.details, response.custom_status) == ("boom", "tb", "half")
    assert response.actions == (act.CallActivity("a", "1"),)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("plain crash", "plain crash"),
        ("head\n\n$OutOfProcData$:{broken", "head"),  # an unreadable state: fall back to the text before it
    ],
)
def test_exception_without_readable_state(message: str, error: str) -> None:
    response = act.response_from_exception(message)
    assert response.error == error and response.actions == ()


@pytest.mark.parametrize(
    ("policy", "attempts", "delay"),
    [
        (act.RetryPolicy(200, 4), 3, timedelta(milliseconds=200)),
        (act.RetryPolicy(1000, 5, backoff_coefficient=2), 3, timedelta(seconds=4)),
        (act.RetryPolicy(1000, 9, backoff_coefficient=10, max_interval_ms=5000), 4, timedelta(seconds=5)),
    ],
)
def test_retry_delay(policy: act.RetryPolicy, attempts: int, delay: timedelta) -> None:
    assert policy.delay_after(attempts) == delay
