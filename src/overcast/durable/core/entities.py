"""Entity batches (spec §5): build the entity trigger payload, read the entity's answer, shape the caller replies.

Pure: the engine queues operations per entity (FIFO, one batch at a time), persists ``exists``/``state`` from the
outcome and delivers the reply messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from overcast.config import json_text
from overcast.durable.core.history import event_raised
from overcast.durable.core.model import EntityRequest, InstanceMessage
from overcast.errors import DurableProtocolError


def scheduler_id(name: str, key: str) -> str:
    """``@name@key`` with the name lower-cased, as ``EntityId.get_scheduler_id`` and the extension do."""
    if not name or not key:
        raise DurableProtocolError(f"an entity needs a non-empty name and key, got name={name!r} key={key!r}")
    return f"@{name.lower()}@{key}"


def parse_entity_id(entity_id: str) -> tuple[str, str]:
    """Split ``@name@key`` at the first ``@`` after the name (the key may contain ``@``); the name is lower-cased."""
    name, separator, key = entity_id[1:].partition("@") if entity_id.startswith("@") else ("", "", "")
    if not separator or not name or not key:
        raise DurableProtocolError(f"'{entity_id}' is not an entity id; expected '@<name>@<key>'")
    return name.lower(), key


def request_message(
    *,
    request_id: str,
    operation: str,
    input_text: str | None,
    is_signal: bool,
    parent_instance_id: str,
    parent_execution_id: str,
) -> str:
    """The extension's RequestMessage JSON stored in EventSent.Input (the SDK reads only ``id``)."""
    message: dict[str, Any] = {"op": operation}
    if is_signal:
        message["signal"] = True
    message.update(input=input_text, id=request_id, parent=parent_instance_id, parentExecution=parent_execution_id)
    return json.dumps(message)


def batch_input(stored: str | None) -> str:
    """The batch item ``input``: JSON text of a JSON string holding JSON text (``"\\"5\\""``), as the SDK decodes.

    What the Python SDK sends is already in that form and passes unchanged. Anything else whose meaning is clear is
    re-encoded instead of making ``get_input()`` raise (Decision 4): null/absent means None, a bare JSON value
    (``5``) means that value, a JSON string whose content is not JSON (``"hello"``) or text that is not JSON at all
    means that string.
    """
    if stored is None:
        return json.dumps("null")
    try:
        outer = json_text.loads(stored)
    except ValueError:
        return json.dumps(json.dumps(stored))
    if not isinstance(outer, str):
        return json.dumps(json.dumps(outer))
    try:
        json.loads(outer)
    except ValueError:
        return json.dumps(json.dumps(outer))
    return stored


@dataclass(frozen=True, slots=True)
class EntityOperation:
    """One queued operation. ``input`` is the stored request input (normalized by ``batch_input`` when sent)."""

    operation: str
    input: str | None
    is_signal: bool = True
    request_id: str | None = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None

    @classmethod
    def from_request(cls, request: EntityRequest) -> EntityOperation:
        return cls(
            request.operation,
            request.input,
            request.is_signal,
            request.request_id,
            request.parent_instance_id,
            request.parent_execution_id,
        )


@dataclass(frozen=True, slots=True)
class OperationResult:
    """``result`` is JSON text: the ``set_result`` value, ``"null"``, or on error the JSON text of the message."""

    is_error: bool
    result: str | None
    duration_ms: int = 0
    start_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class EntityBatchOutcome:
    """What to persist after a batch: ``state`` is JSON text, None when the entity does not exist (any more)."""

    exists: bool
    state: str | None
    results: tuple[OperationResult, ...]


def build_batch(name: str, key: str, exists: bool, state: str | None, operations: Sequence[EntityOperation]) -> str:
    """The entity trigger value: exactly ``self``, ``exists``, ``state``, ``batch`` (any other key breaks the SDK)."""
    payload = {
        "self": {"name": name.lower(), "key": key},
        "exists": exists,
        "state": state if exists else None,
        "batch": [
            {"name": operation.operation, "input": batch_input(operation.input), "isSignal": operation.is_signal}
            for operation in operations
        ],
    }
    return json.dumps(payload)


def parse_batch_response(value: str | bytes | dict[str, Any], operation_count: int) -> EntityBatchOutcome:
    """Read the entity function's JSON answer. Raises ``DurableProtocolError`` saying what is wrong."""
    try:
        document = value if isinstance(value, dict) else json_text.loads(value, "The entity's answer")
    except (TypeError, ValueError) as problem:
        text = str(value)[:200]
        raise DurableProtocolError(f"the entity returned text that is not JSON ({problem}): {text!r}") from None
    if not isinstance(document, dict):
        raise DurableProtocolError(f"the entity returned {type(document).__name__}, expected an object")
    exists, state, results = document.get("entityExists"), document.get("entityState"), document.get("results")
    if not isinstance(exists, bool):
        raise DurableProtocolError(f"'entityExists' must be true or false, got {exists!r}")
    if state is not None and not isinstance(state, str):
        state = json.dumps(state)
    if not isinstance(results, list) or len(results) != operation_count:
        got = len(results) if isinstance(results, list) else repr(results)
        raise DurableProtocolError(f"'results' must list one result per operation ({operation_count}), got {got}")
    parsed = tuple(_result(item, index) for index, item in enumerate(results))
    return EntityBatchOutcome(exists, state if exists else None, parsed)


def _result(item: Any, index: int) -> OperationResult:
    if not isinstance(item, dict) or not isinstance(item.get("isError"), bool):
        raise DurableProtocolError(f"results[{index}] must be an object with a boolean 'isError', got {item!r}")
    result = item.get("result")
    if result is not None and not isinstance(result, str):
        result = json.dumps(result)
    duration, start = item.get("duration"), item.get("startTime")
    return OperationResult(
        item["isError"],
        result,
        duration if isinstance(duration, int) else 0,
        start if isinstance(start, int) else None,
    )


def failed_batch(operation_count: int, error: str, exists: bool, state: str | None) -> EntityBatchOutcome:
    """The outcome when the entity function itself failed: every operation errs, the state is unchanged."""
    result = OperationResult(is_error=True, result=json.dumps(error))
    return EntityBatchOutcome(exists, state if exists else None, (result,) * operation_count)


def caller_replies(
    operations: Sequence[EntityOperation], outcome: EntityBatchOutcome, now: datetime
) -> list[InstanceMessage]:
    """``EventRaised{Name: request id, Input: {"result": ..., "exceptionType"?}}`` for every call (not signals)."""
    replies = []
    for operation, result in zip(operations, outcome.results, strict=False):
        if operation.is_signal or operation.request_id is None or operation.parent_instance_id is None:
            continue
        response: dict[str, Any] = {"result": result.result if result.result is not None else "null"}
        if result.is_error:
            response["exceptionType"] = "Error"
        event = event_raised(operation.request_id, json.dumps(response), now)
        replies.append(InstanceMessage(operation.parent_instance_id, operation.parent_execution_id, event))
    return replies
