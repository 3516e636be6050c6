"""What a trigger hands the dispatcher (Invocation) and what it gets back (Result)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from overcast.app.spec import FunctionSpec


@dataclass
class Invocation:
    """One call of a function. ``trigger`` and the metadata values are ``azure.functions.meta.Datum``s."""

    function: FunctionSpec
    trigger: Any
    reason: str
    trigger_metadata: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)  # other input bindings, by binding name
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    traceparent: str | None = None
    tracestate: str | None = None
    retry_count: int = 0
    max_retry_count: int = 0
    previous_error: BaseException | None = None
    # Extra objects a trigger passes straight to the parameter (HTTP streaming: the Starlette request).
    direct_value: Any = None


@dataclass
class Result:
    """How an invocation ended. ``return_value`` and ``outputs`` hold encoded Datums."""

    invocation_id: str
    succeeded: bool
    duration_ms: float = 0.0
    return_value: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    timed_out: bool = False
    raw_return: Any = None  # the Python object returned (HTTP streaming needs it unencoded)

    @property
    def error_text(self) -> str:
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"
