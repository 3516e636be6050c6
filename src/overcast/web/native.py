"""Serving ``AsgiFunctionApp`` apps natively: the user's ASGI app gets the real request stream and sends its
own response (streamed both ways), with the scope keys ``AsgiMiddleware`` would add, and one lifespan per instance
instead of a startup on the first request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from overcast.invoke.context import make_context
from overcast.invoke.inflight import InFlight
from overcast.invoke.model import new_invocation_id
from overcast.observe.scope import InvocationScope, current, thread_local_storage
from overcast.web.asgi_io import Receive, Send, send_response
from overcast.web.routing import FunctionRoute

log = logging.getLogger("overcast.function")
REASON = "This function was programmatically called via the host APIs."


def inner_asgi_app(app_object: Any) -> Any:
    """The ASGI app wrapped by an AsgiFunctionApp (the library keeps it on its middleware)."""
    middleware = getattr(app_object, "middleware", None)
    return getattr(middleware, "_app", None)


class NativeAsgi:
    def __init__(self, app: Any, function_timeout: float | None, in_flight: InFlight | None = None) -> None:
        self._app = app
        self._in_flight = in_flight or InFlight()
        self._timeout = function_timeout
        self._state: dict[str, Any] = {}
        self._lifespan_task: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def startup(self) -> None:
        """Run the app's lifespan startup; apps without lifespan support are fine (uvicorn's "auto")."""
        await self._shutdown.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}

        async def run() -> None:
            try:
                await self._app(scope, self._shutdown.get, self._events.put)
            except Exception as exc:
                await self._events.put({"type": "lifespan.unsupported", "error": exc})

        self._lifespan_task = asyncio.get_running_loop().create_task(run())
        event = await self._events.get()
        if event["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"ASGI middleware startup failed. {event.get('message', '')}".strip())
        if event["type"] == "lifespan.unsupported":
            log.debug("The ASGI app does not support lifespan: %s", event["error"])
            self._lifespan_task = None

    async def shutdown(self) -> None:
        if self._lifespan_task is None:
            return
        await self._shutdown.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._events.get(), 10)
        except asyncio.TimeoutError:
            self._lifespan_task.cancel()

    async def __call__(
        self, route: FunctionRoute, scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        spec = route.spec
        invocation_id = new_invocation_id()
        headers = dict(scope["headers"])
        context = make_context(
            invocation_id=invocation_id, function_name=spec.name, function_directory=spec.directory,
            traceparent=(headers.get(b"traceparent") or b"").decode("latin-1") or None,
            tracestate=(headers.get(b"tracestate") or b"").decode("latin-1") or None,
            retry_count=0, max_retry_count=0, previous_error=None,
        )
        child = dict(scope)
        child.update({
            "root_path": "",
            "state": dict(self._state),
            "azure_functions.function_directory": spec.directory,
            "azure_functions.function_name": spec.name,
            "azure_functions.invocation_id": invocation_id,
            "azure_functions.thread_local_storage": thread_local_storage,
            "azure_functions.trace_context": context.trace_context,
            "azure_functions.retry_context": context.retry_context,
        })
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        category = {"category": f"Function.{spec.name}"}
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, REASON, invocation_id, extra=category)
        token = current.set(InvocationScope(invocation_id, spec.name))
        begin = time.perf_counter()
        outcome, error = "Succeeded", None
        self._in_flight.enter(spec.name)
        try:
            if self._timeout is None:
                await self._app(child, receive, tracking_send)
            else:
                await asyncio.wait_for(self._app(child, receive, tracking_send), self._timeout)
        except Exception as exc:
            outcome, error = "Failed", exc
            if not started:
                await send_response(send, 500, [])
        finally:
            self._in_flight.leave(spec.name)
            current.reset(token)
        elapsed = (time.perf_counter() - begin) * 1000
        if error is None:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", spec.name, invocation_id, elapsed,
                     extra=category)
        else:
            log.error("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", spec.name, outcome, invocation_id, elapsed,
                      extra=category, exc_info=error)
