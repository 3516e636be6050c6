"""Request and response bodies that stream between the event loop and the store threads.

The stores are synchronous and run in threads; a body of up to 5000 MiB must never be whole in memory. An upload's
body is a :class:`BodyStream`: the store thread iterates it, and each step asks the event loop for the next piece
the client sent (``asyncio.run_coroutine_threadsafe``), so one piece at a time is in flight and a slow store slows
the client down (TCP back-pressure) instead of filling memory. A download is an async iterator over a store
reader's chunks, each fetched in a store thread (:class:`OffLoopChunks`); the reader is closed when the response
ends, however it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from overcast.storage_api.errors import error

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyStream:
    """A request body read from the ASGI ``receive`` channel while a store thread consumes it (once)."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._receive = receive
        self._loop = loop
        self._limit = limit
        self._done = False
        self.received = 0

    @property
    def done(self) -> bool:
        """Whether the whole body has been read."""
        return self._done

    def chunks(self) -> Iterator[bytes]:
        """The body's pieces as the client sends them. Blocking: call it from a store thread, never the loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("A request body stream is read from a store thread, not from the event loop.")
        while not self._done:
            message = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if message is not None:
                yield message

    async def _next(self) -> bytes | None:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._done = True
            raise error(400, "IncompleteBody", "The client closed the connection before sending the whole body.")
        body: bytes = message.get("body", b"")
        self._done = not message.get("more_body", False)
        self.received += len(body)
        if self.received > self._limit:
            raise error(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum "
                        "permissible limit.", MaxLimit=str(self._limit))
        return body or None

    async def drain(self) -> None:
        """Read and drop what the handler left unread, so the client can read the reply on a kept connection."""
        while not self._done:
            try:
                await self._next()
            except Exception:
                return


class OffLoopChunks:
    """A store reader's (blocking) chunks as an async iterator, each fetched in a store thread; :meth:`aclose`
    releases the reader however far the response got (a client that went away, a HEAD, a failed send)."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None],
                 io: Callable[..., Awaitable[Any]]) -> None:
        self._chunks = chunks
        self._release = release
        self._io = io
        self._closed = False

    def __aiter__(self) -> OffLoopChunks:
        return self

    async def __anext__(self) -> bytes:
        chunk: bytes | None = await self._io(next, self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            await self._io(close)
        await self._io(self._release)  # an iterator never started has nothing to close: release directly
