"""Small helpers to read an ASGI request body and send a complete response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from overcast.errors import BodyTooLarge

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; raises BodyTooLarge past ``limit`` bytes (even when Content-Length lied)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(
    send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes = b"", *, head: bool = False
) -> None:
    encoded = [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]
    if not any(k.lower() == b"content-length" for k, _ in encoded) and status not in (204, 304) and status >= 200:
        encoded.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": b"" if head or status in (204, 304) else body})
