"""Read what the orchestrator function hands back (OrchestratorState, spec §3) into typed actions.

Two entry points never raise: ``response_from_return`` (the function returned its JSON string) and
``response_from_exception`` (it raised ``...\\n\\n$OutOfProcData$:{state}``). Anything malformed becomes a response
whose ``error`` says what was wrong, so the episode fails the instance with a clear reason instead of crashing.
Schema V2/V3 (``schemaVersion`` 1 or 2: one list of all actions) and V1 (no ``schemaVersion``: one list per yield)
are both accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from overcast.config import json_text
from overcast.durable.core.history import parse_timestamp
from overcast.errors import DurableProtocolError

OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * 24 * 3600 * 1000  # the extension's default (6 days)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retryOptions``; Python sends only the first two, other SDKs may send the rest."""

    first_interval_ms: int
    max_attempts: int
    backoff_coefficient: float = 1.0
    max_interval_ms: int = DEFAULT_MAX_RETRY_INTERVAL_MS
    timeout_ms: int | None = None

    def delay_after(self, attempts: int) -> timedelta:
        """Wait before attempt ``attempts + 1``: first x backoff^(attempts-1), capped at the max interval."""
        millis = self.first_interval_ms * self.backoff_coefficient ** max(attempts - 1, 0)
        return timedelta(milliseconds=min(millis, self.max_interval_ms))


@dataclass(frozen=True, slots=True)
class CallActivity:
    """actionType 0 (``retry`` None) or 1."""

    name: str
    input: str | None
    retry: RetryPolicy | None = None


@dataclass(frozen=True, slots=True)
class CallSubOrchestrator:
    """actionType 2 (``retry`` None) or 3. ``instance_id`` None means "derive it" (``<execution id>:<seq>``)."""

    name: str
    input: str | None
    instance_id: str | None = None
    version: str | None = None
    retry: RetryPolicy | None = None


@dataclass(frozen=True, slots=True)
class ContinueAsNew:
    input: str | None


@dataclass(frozen=True, slots=True)
class CreateTimer:
    fire_at: datetime
    is_canceled: bool = False


@dataclass(frozen=True, slots=True)
class WaitForExternalEvent:
    name: str


@dataclass(frozen=True, slots=True)
class CallEntity:
    entity_id: str
    operation: str
    input: str | None


@dataclass(frozen=True, slots=True)
class SignalEntity:
    """actionType 9, or 10 with ``scheduled_time`` (never emitted by Python)."""

    entity_id: str
    operation: str
    input: str | None
    scheduled_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallHttp:
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WhenAll:
    children: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class WhenAny:
    children: tuple[Action, ...]


Action = (
    CallActivity
    | CallSubOrchestrator
    | ContinueAsNew
    | CreateTimer
    | WaitForExternalEvent
    | CallEntity
    | SignalEntity
    | CallHttp
    | WhenAll
    | WhenAny
)


@dataclass(frozen=True, slots=True)
class OrchestratorResponse:
    """One orchestrator invocation's result. ``actions`` are the top-level actions in yield order.

    ``custom_status`` is None when absent (the SDK drops falsy values). ``error`` is set when the orchestrator
    raised or returned something unreadable; ``details`` then carries the traceback text when known.
    """

    is_done: bool
    actions: tuple[Action, ...] = ()
    output: Any = None
    has_output: bool = False
    custom_status: Any = None
    error: str | None = None
    details: str = ""
    schema_version: int | None = None


def response_from_return(value: str | bytes | dict[str, Any]) -> OrchestratorResponse:
    """Parse the JSON string the orchestrator returned. Never raises."""
    try:
        document = _load_document(value)
        return parse_state(document)
    except DurableProtocolError as problem:
        return OrchestratorResponse(is_done=False, error=f"the orchestrator returned an unreadable state: {problem}")


def response_from_exception(message: str, details: str = "") -> OrchestratorResponse:
    """Read a failed invocation: the SDK's ``<error>\\n\\n$OutOfProcData$:<state>`` text, or any other message.

    Also accepts the worker's RpcException layout (``...\\nStack: ...`` after the state). Never raises.
    """
    head, label, tail = message.partition(OUT_OF_PROC_LABEL)
    if not label:
        return OrchestratorResponse(is_done=False, error=message, details=details)
    # The state is one line of JSON (json.dumps never writes a raw newline); anything after it is the stack.
    state_text = tail.split("\n", 1)[0]
    try:
        state = parse_state(_load_document(state_text))
    except DurableProtocolError:
        return OrchestratorResponse(is_done=False, error=head, details=details)
    return OrchestratorResponse(
        is_done=state.is_done,
        actions=state.actions,
        custom_status=state.custom_status,
        error=state.error if state.error else head,
        details=details,
        schema_version=state.schema_version,
    )


def _load_document(value: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        document = json_text.loads(value, "The orchestrator's answer")
    except (TypeError, ValueError) as problem:
        raise DurableProtocolError(f"not JSON ({problem}): {str(value)[:200]!r}") from None
    if not isinstance(document, dict):
        raise DurableProtocolError(f"expected a JSON object, got {type(document).__name__}: {str(value)[:200]!r}")
    return document


def parse_state(document: dict[str, Any]) -> OrchestratorResponse:
    """Parse an OrchestratorState object. Raises ``DurableProtocolError`` naming the offending path."""
    is_done = document.get("isDone", False)
    if not isinstance(is_done, bool):
        raise DurableProtocolError(f"'isDone' must be true or false, got {is_done!r}")
    schema = document.get("schemaVersion")
    if schema is not None and (not isinstance(schema, int) or isinstance(schema, bool) or schema not in (0, 1, 2)):
        raise DurableProtocolError(f"'schemaVersion' must be absent, 0, 1 or 2, got {schema!r}")
    error = document.get("error")
    if error is not None and not isinstance(error, str):
        error = json.dumps(error)
    return OrchestratorResponse(
        is_done=is_done,
        actions=_parse_action_lists(document.get("actions"), schema, lenient=error is not None),
        output=document.get("output"),
        has_output="output" in document and document["output"] is not None,
        custom_status=document.get("customStatus"),
        error=error or None,
        schema_version=schema,
    )


def _parse_action_lists(lists: Any, schema: int | None, *, lenient: bool) -> tuple[Action, ...]:
    if lists is None and lenient:
        return ()
    if not isinstance(lists, list) or not all(isinstance(inner, list) for inner in lists):
        raise DurableProtocolError(f"'actions' must be a list of lists of actions, got {str(lists)[:200]}")
    if schema:  # V2/V3: one list holding every action of the execution so far
        if len(lists) > 1:
            raise DurableProtocolError(f"'actions' must hold one list with schemaVersion {schema}, got {len(lists)}")
        items = lists[0] if lists else []
        return tuple(parse_action(item, f"actions[0][{index}]") for index, item in enumerate(items))
    # V1: one list per yield. The extension awaits WhenAny over each list, so a multi-action list is one WhenAny.
    top: list[Action] = []
    for outer, inner in enumerate(lists):
        parsed = tuple(parse_action(item, f"actions[{outer}][{index}]") for index, item in enumerate(inner))
        if len(parsed) == 1 or any(isinstance(action, (SignalEntity, ContinueAsNew)) for action in parsed):
            top.extend(parsed)
        elif parsed:
            top.append(WhenAny(parsed))
    return tuple(top)


def parse_action(item: Any, where: str = "action") -> Action:
    """Parse one action dict (recursively for WhenAll/WhenAny). Raises ``DurableProtocolError`` naming ``where``."""
    if not isinstance(item, dict):
        raise DurableProtocolError(f"{where}: an action must be a JSON object, got {str(item)[:100]}")
    kind = item.get("actionType")
    parser = _PARSERS.get(kind) if isinstance(kind, int) and not isinstance(kind, bool) else None
    if parser is None:
        raise DurableProtocolError(f"{where}: unknown actionType {kind!r} (expected 0-12, see spec §3.2)")
    return parser(_Fields(item, where))


class _Fields:
    """Typed access to one action's fields, with errors that name the path and the field."""

    def __init__(self, item: dict[str, Any], where: str) -> None:
        self.item, self.where = item, where

    def fail(self, message: str) -> DurableProtocolError:
        return DurableProtocolError(f"{self.where} (actionType {self.item.get('actionType')}): {message}")

    def name(self, key: str) -> str:
        value = self.item.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"'{key}' must be a non-empty string, got {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.item.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.fail(f"'{key}' must be a string or null, got {value!r}")

    def payload(self, key: str = "input") -> str | None:
        """An input is JSON text; a non-text JSON value is accepted and encoded (its meaning is unambiguous)."""
        value = self.item.get(key)
        return value if value is None or isinstance(value, str) else json.dumps(value)

    def time(self, key: str) -> datetime:
        value = self.item.get(key)
        try:
            return parse_timestamp(value if isinstance(value, str) else repr(value))
        except ValueError as problem:
            raise self.fail(f"'{key}': {problem}") from None

    def retry(self) -> RetryPolicy:
        options = self.item.get("retryOptions")
        if not isinstance(options, dict):
            raise self.fail(f"'retryOptions' must be an object, got {options!r}")
        first, attempts = options.get("firstRetryIntervalInMilliseconds"), options.get("maxNumberOfAttempts")
        if not _is_number(first) or first <= 0:
            raise self.fail(f"'retryOptions.firstRetryIntervalInMilliseconds' must be > 0, got {first!r}")
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            raise self.fail(f"'retryOptions.maxNumberOfAttempts' must be an integer, got {attempts!r}")
        backoff = options.get("backoffCoefficient", 1.0)
        max_interval = options.get("maxRetryIntervalInMilliseconds", DEFAULT_MAX_RETRY_INTERVAL_MS)
        timeout = options.get("retryTimeoutInMilliseconds")
        return RetryPolicy(
            first_interval_ms=int(first),
            max_attempts=attempts,
            backoff_coefficient=float(backoff) if _is_number(backoff) and backoff > 0 else 1.0,
            max_interval_ms=int(max_interval) if _is_number(max_interval) else DEFAULT_MAX_RETRY_INTERVAL_MS,
            timeout_ms=int(timeout) if _is_number(timeout) else None,
        )

    def children(self) -> tuple[Action, ...]:
        children = self.item.get("compoundActions")
        if not isinstance(children, list):
            raise self.fail(f"'compoundActions' must be a list, got {children!r}")
        parsed = tuple(parse_action(child, f"{self.where}.compoundActions[{i}]") for i, child in enumerate(children))
        if any(isinstance(child, ContinueAsNew) for child in parsed):
            raise self.fail("ContinueAsNew cannot be part of a WhenAll/WhenAny")
        return parsed


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _activity(fields: _Fields) -> Action:
    retry = fields.retry() if fields.item["actionType"] == 1 else None
    return CallActivity(fields.name("functionName"), fields.payload(), retry)


def _sub_orchestrator(fields: _Fields) -> Action:
    retry = fields.retry() if fields.item["actionType"] == 3 else None
    instance_id = fields.optional_text("instanceId") or None
    return CallSubOrchestrator(
        fields.name("functionName"), fields.payload(), instance_id, fields.optional_text("version"), retry
    )


def _timer(fields: _Fields) -> Action:
    canceled = fields.item.get("isCanceled", False)
    if not isinstance(canceled, bool):
        raise fields.fail(f"'isCanceled' must be true or false, got {canceled!r}")
    return CreateTimer(fields.time("fireAt"), canceled)


def _signal(fields: _Fields) -> Action:
    scheduled = fields.time("fireAt") if fields.item["actionType"] == 10 else None
    return SignalEntity(fields.name("instanceId"), fields.name("operation"), fields.payload(), scheduled)


def _http(fields: _Fields) -> Action:
    request = fields.item.get("httpRequest")
    if not isinstance(request, dict):
        raise fields.fail(f"'httpRequest' must be an object, got {request!r}")
    for key in ("method", "uri"):
        if not isinstance(request.get(key), str) or not request[key]:
            raise fields.fail(f"'httpRequest.{key}' must be a non-empty string, got {request.get(key)!r}")
    return CallHttp(request)


_PARSERS: dict[int, Callable[[_Fields], Action]] = {
    0: _activity,
    1: _activity,
    2: _sub_orchestrator,
    3: _sub_orchestrator,
    4: lambda fields: ContinueAsNew(fields.payload()),
    5: _timer,
    6: lambda fields: WaitForExternalEvent(fields.name("externalEventName")),
    7: lambda fields: CallEntity(fields.name("instanceId"), fields.name("operation"), fields.payload()),
    8: _http,
    9: _signal,
    10: _signal,
    11: lambda fields: WhenAny(fields.children()),
    12: lambda fields: WhenAll(fields.children()),
}
