"""The built-in HTTP activity behind ``context.call_http`` (spec §4.5).

The SDK models ``call_http`` as one task, so the 202 + ``Location`` polling the extension performs with extra
timers cannot be replayed by it; Overcast polls inside the activity instead (one task, one result), honouring
``Retry-After`` and giving up after ``POLL_LIMIT_SECONDS``. The result is the dict the SDK hands the user:
``{"statusCode", "headers", "content"}``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

POLL_LIMIT_SECONDS = 600.0
DEFAULT_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 30.0


def _request_fields(text: str | None) -> tuple[str, str, dict[str, str], str | None, bool]:
    request = json.loads(text or "{}")
    if isinstance(request, str):  # the SDK's input is JSON text; accept it doubly encoded as well
        request = json.loads(request)
    method = str(request.get("method") or "GET").upper()
    uri = str(request.get("uri") or "")
    if not uri:
        raise ValueError("call_http needs a uri")
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    content = request.get("content")
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    polling = request.get("asynchronousPatternEnabled", True) is not False
    return method, uri, headers, content, polling


def _retry_after(value: str | None) -> float:
    try:
        return min(MAX_POLL_SECONDS, max(0.0, float(value))) if value else DEFAULT_POLL_SECONDS
    except ValueError:
        return DEFAULT_POLL_SECONDS


async def run_http_activity(input_text: str | None) -> str:
    """Perform the request (and its 202 polling); the TaskCompleted result as JSON text."""
    import aiohttp  # the durable SDK depends on it, so every durable app has it

    method, uri, headers, content, polling = _request_fields(input_text)
    timeout = aiohttp.ClientTimeout(total=POLL_LIMIT_SECONDS)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT_SECONDS
    async with aiohttp.ClientSession(timeout=timeout) as session:
        response = await _send(session, method, uri, headers, content)
        while polling and response["statusCode"] == 202 and response["location"] and loop.time() < deadline:
            await asyncio.sleep(_retry_after(response["retry_after"]))
            response = await _send(session, "GET", response["location"], headers, None)
    return json.dumps({k: response[k] for k in ("statusCode", "headers", "content")})


async def _send(session: Any, method: str, uri: str, headers: dict[str, str], content: str | None) -> dict[str, Any]:
    async with session.request(method, uri, headers=headers, data=content) as reply:
        body = await reply.text(errors="replace")
        grouped: dict[str, Any] = {}
        for name, value in reply.headers.items():
            previous = grouped.get(name)
            grouped[name] = value if previous is None else [*([previous] if isinstance(previous, str) else previous),
                                                             value]
        return {"statusCode": reply.status, "headers": grouped, "content": body,
                "location": reply.headers.get("Location"), "retry_after": reply.headers.get("Retry-After")}
