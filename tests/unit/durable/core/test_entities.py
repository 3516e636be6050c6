"""Entity batch shaping (spec §5.2-5.4), run through the real SDK's Entity handle."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from typing import Any

import azure.durable_functions as df
import pytest

from overcast.durable.core import entities as ent
from overcast.errors import DurableProtocolError

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def echo(context: Any) -> None:
    """Returns its input; ``keep`` leaves the state untouched; ``boom`` fails; ``delete`` destructs."""
    operation = context.operation_name
    if operation == "boom":
        context.set_state("touched")
        raise ValueError("bad op")
    if operation == "delete":
        context.destruct_on_exit()
        return
    if operation != "keep":
        context.set_state({"last": context.get_input()})
    context.set_result(context.get_input())


def run_batch(exists: bool, state: str | None, operations: list[ent.EntityOperation]) -> ent.EntityBatchOutcome:
    payload = ent.build_batch("Echo", "k", exists, state, operations)
    assert set(json.loads(payload)) == {"self", "exists", "state", "batch"}  # any other key breaks the SDK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's one-time codec advisories
        return ent.parse_batch_response(df.Entity.create(echo)(payload), len(operations))


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        ('"5"', 5),  # the Python SDK's double encoding passes unchanged
        ('"\\"hi\\""', "hi"),
        ('"null"', None),
        (None, None),  # a client signal without a body
        ("5", 5),  # single encoding (curl -d 5): re-encoded (Decision 4)
        ('{"a": 1}', {"a": 1}),
        ('"hello"', "hello"),  # a JSON string whose content is not JSON
        ("hello", "hello"),  # raw text stored for a non-JSON content type
    ],
)
def test_operation_input_reaches_get_input(stored: str | None, value: Any) -> None:
    outcome = run_batch(False, None, [ent.EntityOperation("set", stored, is_signal=False)])
    first = outcome.results[0]  # the SDK times the operation on the real clock: a loaded machine takes milliseconds
    assert first == ent.OperationResult(False, json.dumps(value), first.duration_ms, first.start_time_ms)
    assert first.duration_ms >= 0
    assert outcome.exists and json.loads(outcome.state or "") == {"last": value}


def test_batch_state_errors_without_rollback_and_destruct() -> None:
    operations = [
        ent.EntityOperation("keep", '"1"'),
        ent.EntityOperation(
            "boom", None, is_signal=False, request_id="r1", parent_instance_id="o", parent_execution_id="x"
        ),
        ent.EntityOperation("keep", '"2"', is_signal=False, request_id="r2", parent_instance_id="o"),
    ]
    outcome = run_batch(True, '{"v": 1}', operations)
    assert [r.is_error for r in outcome.results] == [False, True, False]
    assert outcome.results[1].result == '"bad op"'
    assert outcome.state == '"touched"'  # no rollback of the failed operation's change
    replies = ent.caller_replies(operations, outcome, NOW)
    assert [(r.instance_id, r.execution_id, r.event["Name"]) for r in replies] == [("o", "x", "r1"), ("o", None, "r2")]
    assert json.loads(replies[0].event["Input"]) == {"result": '"bad op"', "exceptionType": "Error"}
    assert json.loads(replies[1].event["Input"]) == {"result": "2"}
    deleted = run_batch(True, '{"v": 1}', [ent.EntityOperation("delete", None)])
    assert (deleted.exists, deleted.state) == (False, None)


def test_untouched_state_is_written_back_verbatim() -> None:
    outcome = run_batch(True, '{"b": 2, "a": 1}', [ent.EntityOperation("keep", '"1"')])
    assert outcome.state == '{"b": 2, "a": 1}'


@pytest.mark.parametrize(
    ("response", "count", "message"),
    [
        ("oops", 1, "not JSON"),
        ("[]", 1, "expected an object"),
        ('{"entityExists": "yes", "results": []}', 0, "'entityExists' must be true or false"),
        ('{"entityExists": true, "entityState": "1", "results": []}', 2, "one result per operation (2), got 0"),
        ('{"entityExists": true, "entityState": "1", "results": [{"result": "1"}]}', 1, "boolean 'isError'"),
    ],
)
def test_malformed_entity_responses(response: str, count: int, message: str) -> None:
    with pytest.raises(DurableProtocolError) as caught:
        ent.parse_batch_response(response, count)
    assert message in str(caught.value)


def test_failed_batch_keeps_the_state_and_fails_every_call() -> None:
    outcome = ent.failed_batch(2, "TypeError: crashed", True, "7")
    assert (outcome.exists, outcome.state) == (True, "7")
    assert [(r.is_error, r.result) for r in outcome.results] == [(True, '"TypeError: crashed"')] * 2


@pytest.mark.parametrize(
    ("entity_id", "parts"),
    [("@counter@k1", ("counter", "k1")), ("@Counter@a@b", ("counter", "a@b")), ("@c@$", ("c", "$"))],
)
def test_entity_ids(entity_id: str, parts: tuple[str, str]) -> None:
    assert ent.parse_entity_id(entity_id) == parts
    assert ent.scheduler_id(*parts) == entity_id.replace("Counter", "counter")


@pytest.mark.parametrize("entity_id", ["counter@k", "@counter", "@@k", "@counter@"])
def test_bad_entity_ids(entity_id: str) -> None:
    with pytest.raises(DurableProtocolError, match="is not an entity id"):
        ent.parse_entity_id(entity_id)


def test_request_message_shape() -> None:
    message = ent.request_message(
        request_id="r",
        operation="add",
        input_text='"5"',
        is_signal=True,
        parent_instance_id="o",
        parent_execution_id="x",
    )
    assert json.loads(message) == {
        "op": "add",
        "signal": True,
        "input": '"5"',
        "id": "r",
        "parent": "o",
        "parentExecution": "x",
    }
