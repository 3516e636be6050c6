"""Overcast's own model of an indexed function; nothing outside ``app/`` looks at azure.functions objects."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["in", "out", "inout"]
HttpType = Literal["function", "asgi", "wsgi"]


@dataclass(frozen=True)
class BindingSpec:
    """One binding, as the host sees it (``raw`` keeps the camelCase JSON of the decorator or function.json)."""

    name: str
    type: str
    direction: Direction
    data_type: str | None
    raw: Mapping[str, Any]

    @property
    def is_trigger(self) -> bool:
        return self.type.lower().endswith("trigger")

    def get(self, key: str, default: Any = None) -> Any:
        """A binding property by its camelCase name (case-insensitive, as the host reads them)."""
        lowered = key.lower()
        for k, v in self.raw.items():
            if k.lower() == lowered:
                return v
        return default


@dataclass(frozen=True)
class ParamSpec:
    """A Python parameter bound to a binding: which converter decodes it and which type it asked for."""

    name: str
    binding: BindingSpec
    converter_type: str  # binding type, or "generic" for str/bytes annotations
    pytype: Any  # the annotation (inner type for Out[T]) or None
    is_out: bool


@dataclass(frozen=True)
class RetrySpec:
    strategy: Literal["fixed_delay", "exponential_backoff"]
    max_retry_count: int
    delay_interval: float = 0.0
    minimum_interval: float = 0.0
    maximum_interval: float = 0.0


@dataclass
class FunctionSpec:
    """A function of the app, ready to be invoked; ``error`` set means it is in error and is not served."""

    name: str
    func: Callable[..., Any]
    bindings: tuple[BindingSpec, ...]
    directory: str
    script_file: str
    is_async: bool = False
    http_type: HttpType = "function"
    params: tuple[ParamSpec, ...] = ()
    return_converter: str | None = None  # binding type of $return (or implicit output)
    return_pytype: Any = None
    needs_context: bool = False
    retry: RetrySpec | None = None
    disabled: bool = False
    errors: list[str] = field(default_factory=list)
    # Extra state owned by subsystems (route template, ASGI app, ...), set at index time.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def function_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_OID, self.name))

    @property
    def trigger(self) -> BindingSpec:
        for binding in self.bindings:
            if binding.direction == "in" and binding.is_trigger:
                return binding
        raise LookupError(f"function {self.name} has no trigger")

    @property
    def is_http(self) -> bool:
        return any(b.type.lower() == "httptrigger" for b in self.bindings)

    @property
    def in_error(self) -> bool:
        return bool(self.errors)
