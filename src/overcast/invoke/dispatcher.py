"""Dispatcher: inputs → context → Out() → call → outputs → $return, for one invocation. Never raises."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from overcast.app.converters import DEFERRED, deferred_converter, get_converter
from overcast.app.spec import BindingSpec, FunctionSpec, ParamSpec
from overcast.errors import InvocationTimeout
from overcast.invoke import extensions
from overcast.invoke.context import make_context
from overcast.invoke.inflight import InFlight
from overcast.invoke.model import Invocation, Result
from overcast.invoke.timeout import Watchdog
from overcast.observe.logs import host_line
from overcast.observe.scope import InvocationScope, current, thread_local_storage

INFO, ERROR = 20, 40


def _out_class() -> Any:
    from azure.functions import Out

    class OutValue(Out[Any]):
        """The concrete ``func.Out``: set() stores the value the host writes after the call."""

        def __init__(self) -> None:
            self._value: Any = None

        def set(self, val: Any) -> None:
            self._value = val

        def get(self) -> Any:
            return self._value

    return OutValue


_OUT: Any = None



class BindingLoader(Protocol):
    """What the dispatcher needs of the binding I/O (overcast.bindings.io.BindingIO)."""

    async def load(self, invocation: Invocation, binding: BindingSpec) -> Any:
        """An input binding's value for this invocation."""
        ...

    async def store(self, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        """Write an output binding's value."""
        ...


class Dispatcher:
    """Runs invocations: async functions on the event loop, sync ones in a bounded thread pool.

    ``on_stuck`` is called when a sync invocation times out: its thread cannot be stopped, so the
    instance should be recycled (the supervisor starts a replacement, then drains this one).
    """

    def __init__(
        self,
        *,
        thread_count: int | None,
        function_timeout: float | None,
        worker_extensions: bool = False,
        on_stuck: Callable[[Invocation], None] | None = None,
        binding_io: BindingLoader | None = None,
    ) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=thread_count, thread_name_prefix="overcast-sync")
        self._timeout = function_timeout
        self._watchdog = Watchdog(function_timeout) if function_timeout is not None else None
        self._extensions = worker_extensions
        self._on_stuck = on_stuck
        # Loads input bindings and writes output bindings other than HTTP (overcast.bindings.io.BindingIO); None when
        # no function has such a binding.
        self.binding_io = binding_io
        self.in_flight = InFlight()  # what a stop waits for, said on the console

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _decode_args(self, invocation: Invocation) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """Arguments for the call and the Out objects created for output parameters."""
        global _OUT
        spec = invocation.function
        args: dict[str, Any] = {}
        outs: dict[str, Any] = {}
        context: Any = None
        for param in spec.params:
            if param.is_out:
                if _OUT is None:
                    _OUT = _out_class()
                outs[param.name] = args[param.name] = _OUT()
            elif param.binding.is_trigger:
                args[param.name] = self._decode(param, invocation.trigger, invocation)
            else:
                args[param.name] = self._decode(param, invocation.inputs.get(param.name), invocation)
        # Extension hooks get the context even when the function does not ask for one, as in the worker.
        if spec.needs_context or self._extensions:
            context = make_context(
                invocation_id=invocation.invocation_id,
                function_name=spec.name,
                function_directory=spec.directory,
                traceparent=invocation.traceparent,
                tracestate=invocation.tracestate,
                retry_count=invocation.retry_count,
                max_retry_count=invocation.max_retry_count,
                previous_error=invocation.previous_error,
            )
            if spec.needs_context:
                args["context"] = context
        return args, outs, context

    @staticmethod
    def _decode(param: ParamSpec, datum: Any, invocation: Invocation) -> Any:
        if invocation.direct_value is not None and param.binding.is_trigger:
            return invocation.direct_value
        if datum is None or getattr(datum, "type", None) is None:
            return None
        if param.converter_type.startswith(DEFERRED):
            deferred = deferred_converter(param.converter_type[len(DEFERRED):], param.pytype)
            return deferred.decode(datum, trigger_metadata=invocation.trigger_metadata, pytype=param.pytype)
        converter = get_converter(param.converter_type)
        try:
            return converter.decode(datum, trigger_metadata=invocation.trigger_metadata)
        except NotImplementedError:
            raise TypeError(
                f"unable to decode incoming TypedData: unsupported combination of TypedData field "
                f"{datum.type!r} and expected binding type {param.converter_type}"
            ) from None

    @staticmethod
    def _encode(binding_type: str, value: Any, pytype: Any) -> Any:
        converter = get_converter(binding_type)
        try:
            return converter.encode(value, expected_type=pytype)
        except NotImplementedError:
            raise TypeError(
                f'unable to encode outgoing TypedData: unsupported type "{binding_type}" for Python type '
                f'"{type(value).__name__}"'
            ) from None

    def _outputs(
        self, spec: FunctionSpec, outs: dict[str, Any], returned: Any, result: Result, streamed: bool,
        encode_return: Callable[[Any], Any] | None = None,
    ) -> None:
        for param in spec.params:
            if param.is_out:
                value = outs[param.name].get()
                if value is not None:
                    # As the worker: an Out[str] / Out[bytes] encodes with the generic converter (converter_type).
                    result.outputs[param.name] = self._encode(param.converter_type, value, param.pytype)
        if streamed:
            return
        # return_converter is the $return binding's type, else the type of a binding with an implicit output
        # (decided at indexing over every binding, as the worker does).
        if spec.return_converter is not None:
            if encode_return is not None and spec.return_converter == "http":
                result.return_value = encode_return(returned)
            else:
                result.return_value = self._encode(spec.return_converter, returned, spec.return_pytype)
        elif returned is not None:
            raise RuntimeError(f"function '{spec.name}' without a $return binding returned a non-None value")

    async def _load_inputs(self, io: BindingLoader, invocation: Invocation) -> None:
        for param in invocation.function.params:
            if not param.is_out and not param.binding.is_trigger and param.name not in invocation.inputs:
                invocation.inputs[param.name] = await io.load(invocation, param.binding)

    async def _write_outputs(self, io: BindingLoader, invocation: Invocation, result: Result) -> None:
        """Write every non-HTTP output (Out parameters, then $return); a failed write fails the invocation."""
        spec = invocation.function
        for param in spec.params:
            datum = result.outputs.get(param.name)
            if param.is_out and datum is not None and param.binding.type != "http":
                await io.store(invocation, param.binding, datum)
        if result.return_value is not None and spec.return_converter not in (None, "http"):
            # An implicit return value (no $return binding) goes to no binding; HTTP answers with it.
            binding = next((b for b in spec.bindings if b.name == "$return"), None)
            if binding is not None:
                await io.store(invocation, binding, result.return_value)

    async def _call(self, spec: FunctionSpec, args: dict[str, Any], context: Any, invocation: Invocation) -> Any:
        hooks = self._extensions
        if spec.is_async:
            if not hooks:
                return await self._bounded(spec.func(**args), invocation, stuck_possible=False)

            async def run_async() -> Any:
                extensions.pre_invocation(spec.name, context, args)
                value = await spec.func(**args)
                extensions.post_invocation(spec.name, context, args, value)
                return value

            return await self._bounded(run_async(), invocation, stuck_possible=False)

        def run_sync() -> Any:  # runs in a copy of this context, so the invocation scope comes along
            thread_local_storage.invocation_id = invocation.invocation_id
            try:
                if hooks:
                    extensions.pre_invocation(spec.name, context, args)
                value = spec.func(**args)
                if hooks:
                    extensions.post_invocation(spec.name, context, args, value)
                return value
            finally:
                thread_local_storage.invocation_id = None

        if spec.extras.get("inline") and invocation.inline:
            # Durable orchestrators: a short, deterministic replay with no I/O (the programming model forbids it);
            # a thread hop would cost more than the call itself.
            return contextvars.copy_context().run(run_sync)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, contextvars.copy_context().run, run_sync)
        return await self._bounded(future, invocation, stuck_possible=True)

    async def _bounded(self, awaitable: Any, invocation: Invocation, *, stuck_possible: bool) -> Any:
        """Await under functionTimeout; the watchdog cancels this task when the deadline passes."""
        if self._watchdog is None:
            return await awaitable
        task = asyncio.current_task()
        assert task is not None
        self._watchdog.track(task)
        timed_out = False
        try:
            return await awaitable
        except asyncio.CancelledError:
            timed_out = self._watchdog.untrack(task)
            if not timed_out:
                raise
            if hasattr(task, "uncancel"):
                task.uncancel()
        finally:
            if not timed_out:
                self._watchdog.untrack(task)
        # A sync function's thread cannot be stopped: ask for this instance to be replaced.
        if stuck_possible and self._on_stuck is not None:
            self._on_stuck(invocation)
        raise InvocationTimeout()

    async def invoke(self, invocation: Invocation) -> Result:
        """Run one invocation; every failure is reported in the Result, nothing propagates."""
        spec = invocation.function
        started = time.perf_counter()
        result = Result(invocation_id=invocation.invocation_id, succeeded=False)
        category = f"Function.{spec.name}"
        host_line(category, INFO, f"Executing 'Functions.{spec.name}' (Reason='{invocation.reason}', "
                                  f"Id={invocation.invocation_id})")
        token = current.set(InvocationScope(invocation.invocation_id, spec.name))
        self.in_flight.enter(spec.name)
        try:
            if self.binding_io is not None:
                await self._load_inputs(self.binding_io, invocation)
            if any(p.converter_type.startswith(DEFERRED) for p in spec.params):
                # An SDK-type binding's extension may call its service while decoding (StorageStreamDownloader
                # downloads): off the event loop, which may be serving that very call (the Storage endpoints).
                ctx = contextvars.copy_context()
                args, outs, context = await asyncio.get_running_loop().run_in_executor(
                    self._pool, ctx.run, self._decode_args, invocation)
            else:
                args, outs, context = self._decode_args(invocation)
            returned = await self._call(spec, args, context, invocation)
            result.raw_return = returned
            # HTTP streaming hands the unencoded return value straight to the web layer.
            self._outputs(spec, outs, returned, result, streamed=invocation.raw_result,
                          encode_return=invocation.encode_return)
            if self.binding_io is not None:
                await self._write_outputs(self.binding_io, invocation, result)
            result.succeeded = True
        except InvocationTimeout as exc:
            result.timed_out = True
            result.error = exc
            host_line(category, ERROR, f"Timeout value of {_format_timeout(self._timeout)} exceeded by function "
                                       f"'Functions.{spec.name}' (Id: '{invocation.invocation_id}'). "
                                       f"Initiating cancellation.")
        except asyncio.CancelledError:
            result.error = RuntimeError("the invocation was cancelled because the host is shutting down")
        except Exception as exc:
            result.error = _without_frames(exc)
        finally:
            self.in_flight.leave(spec.name)
            current.reset(token)
        result.duration_ms = (time.perf_counter() - started) * 1000
        if result.succeeded:
            host_line(category, INFO, f"Executed 'Functions.{spec.name}' (Succeeded, Id={invocation.invocation_id}, "
                                      f"Duration={int(result.duration_ms)}ms)")
        else:
            error = result.error
            detail = "" if error is None or result.timed_out else "\n" + "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            ).rstrip()
            host_line(category, ERROR, f"Executed 'Functions.{spec.name}' (Failed, Id={invocation.invocation_id}, "
                                       f"Duration={int(result.duration_ms)}ms)\nResult: Failure Exception: "
                                       f"{result.error_text or 'Timeout'}{detail}")
        return result


def _without_frames(error: BaseException) -> BaseException:
    """``error`` with its traceback kept for printing but no longer holding the frames' local variables.

    A failed invocation's traceback references the frames it went through, and through them the request, its body
    and every value the function built; this frame (whose ``result`` holds the error) closes a reference cycle, which
    only the cyclic collector frees, whenever it next runs. A 60 MB request that failed kept its ~120 MB alive for
    good in an idle host. Formatting needs only the code and line numbers, so the locals go now.
    """
    seen: set[int] = set()
    current_error: BaseException | None = error
    while current_error is not None and id(current_error) not in seen:
        seen.add(id(current_error))
        tb = current_error.__traceback__
        if tb is not None and tb.tb_frame is sys._getframe(1):
            tb = tb.tb_next  # this frame is still running; its line adds nothing to the trace
            current_error.__traceback__ = tb
        traceback.clear_frames(tb)
        current_error = current_error.__cause__ or current_error.__context__
    return error


def _format_timeout(seconds: float | None) -> str:
    if seconds is None:
        return "-1"
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
