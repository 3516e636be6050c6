"""The ``context`` object handed to functions, implementing ``azure.functions.Context``."""

from __future__ import annotations

import os
import traceback
from typing import Any

from overcast.observe.scope import thread_local_storage


def new_traceparent() -> str:
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def make_context(
    *,
    invocation_id: str,
    function_name: str,
    function_directory: str,
    traceparent: str | None,
    tracestate: str | None,
    retry_count: int,
    max_retry_count: int,
    previous_error: BaseException | None,
) -> Any:
    """Build a Context; the classes are created lazily because azure.functions is imported lazily."""
    return _classes()[0](
        invocation_id, function_name, function_directory,
        _classes()[1](traceparent or new_traceparent(), tracestate or "", {}),
        _classes()[2](retry_count, max_retry_count, previous_error),
    )


_CLASSES: tuple[Any, Any, Any] | None = None


def _classes() -> tuple[Any, Any, Any]:
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    from azure.functions import _abc

    class RpcException(_abc.RpcException):
        def __init__(self, error: BaseException) -> None:
            self._error = error

        @property
        def source(self) -> str:
            return type(self._error).__module__

        @property
        def stack_trace(self) -> str:
            return "".join(traceback.format_exception(type(self._error), self._error, self._error.__traceback__))

        @property
        def message(self) -> str:
            return f"{type(self._error).__name__}: {self._error}"

    class TraceContext(_abc.TraceContext):
        def __init__(self, trace_parent: str, trace_state: str, attributes: dict[str, str]) -> None:
            self._parent, self._state, self._attributes = trace_parent, trace_state, attributes

        @property
        def trace_parent(self) -> str:
            return self._parent

        @property
        def trace_state(self) -> str:
            return self._state

        @property
        def attributes(self) -> dict[str, str]:
            return self._attributes

        # Deprecated capitalised aliases the worker still provides.
        Traceparent = trace_parent
        Tracestate = trace_state
        Attributes = attributes

    class RetryContext(_abc.RetryContext):
        def __init__(self, retry_count: int, max_retry_count: int, error: BaseException | None) -> None:
            self._count, self._max = retry_count, max_retry_count
            self._exception = RpcException(error) if error is not None else None

        @property
        def retry_count(self) -> int:
            return self._count

        @property
        def max_retry_count(self) -> int:
            return self._max

        @property
        def exception(self) -> Any:
            return self._exception

        @property
        def rpc_exception(self) -> Any:  # the worker's name for the same thing
            return self._exception

    class Context(_abc.Context):
        def __init__(self, invocation_id: str, function_name: str, function_directory: str,
                     trace_context: Any, retry_context: Any) -> None:
            self._invocation_id = invocation_id
            self._function_name = function_name
            self._function_directory = function_directory
            self._trace_context = trace_context
            self._retry_context = retry_context

        @property
        def invocation_id(self) -> str:
            return self._invocation_id

        @property
        def thread_local_storage(self) -> Any:
            return thread_local_storage

        @property
        def function_name(self) -> str:
            return self._function_name

        @property
        def function_directory(self) -> str:
            return self._function_directory

        @property
        def trace_context(self) -> Any:
            return self._trace_context

        @property
        def retry_context(self) -> Any:
            return self._retry_context

    _CLASSES = (Context, TraceContext, RetryContext)
    return _CLASSES
