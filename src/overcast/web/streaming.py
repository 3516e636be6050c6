"""HTTP streaming with ``azurefunctions-extensions-http-fastapi``: the function gets a FastAPI/Starlette
``Request`` reading the live body and returns a FastAPI response that is streamed back as it is produced.
"""

from __future__ import annotations

from typing import Any

from overcast.invoke.dispatcher import Dispatcher
from overcast.invoke.model import Invocation
from overcast.web.asgi_io import Receive, Send, send_response
from overcast.web.routing import FunctionRoute

REASON = "This function was programmatically called via the host APIs."


def _as_response(value: Any) -> Any:
    from starlette.responses import JSONResponse, PlainTextResponse, Response

    if isinstance(value, Response):
        return value
    if value is None:
        return Response(status_code=204)
    if isinstance(value, str):
        return PlainTextResponse(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic model
        return JSONResponse(dump(mode="json"))
    return JSONResponse(value)


class StreamingHttp:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def __call__(
        self, route: FunctionRoute, scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        from starlette.requests import Request

        # Starlette reads path params from the scope, so they go there (the worker's synchronizer does the same).
        scope = {**scope, "path_params": dict(params)}
        request = Request(scope, receive)
        headers = dict(scope["headers"])
        invocation = Invocation(
            function=route.spec,
            trigger=None,
            reason=REASON,
            traceparent=(headers.get(b"traceparent") or b"").decode("latin-1") or None,
            direct_value=request,
            raw_result=True,
        )
        result = await self._dispatcher.invoke(invocation)
        if not result.succeeded:
            await send_response(send, 500, [])
            return
        try:
            response = _as_response(result.raw_return)
        except (TypeError, ValueError):
            await send_response(send, 500, [])
            return
        await response(scope, receive, send)
