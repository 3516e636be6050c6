"""The ASGI app of one Storage service: read the request, authenticate it, hand it to the service, answer.

Every reply carries what Azure's does (``x-ms-request-id``, ``x-ms-version``, ``Date``, ``Server``, the client's
``x-ms-client-request-id``); a :class:`StorageApiError` becomes Azure's error reply; any other exception is a 500
``InternalError`` logged with its traceback (the request's data is not lost: handlers write in one store call).
Uploads' bodies reach the handler as a stream and downloads leave as one (:mod:`overcast.storage_api.streaming`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from overcast.errors import StorageApiError
from overcast.storage_api.auth import authenticate
from overcast.storage_api.errors import error, render
from overcast.storage_api.request import ResponseStream, StorageRequest, StorageResponse
from overcast.storage_api.services import Handler, Service
from overcast.storage_api.streaming import BodyStream

log = logging.getLogger("overcast.storage")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_BODY = 5000 * 1024 * 1024  # Azure's largest single Put Blob / Put Block (5000 MiB)


class StorageApp:
    """One service's endpoint (``http://127.0.0.1:<port>/<account>/...``)."""

    def __init__(self, service: Service, handler: Handler) -> None:
        self.service = service
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            return
        request_id = str(uuid.uuid4())
        headers = _headers(scope)
        method = scope["method"]
        stream: BodyStream | None = None
        try:
            _check_length(headers)
            comp = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("comp", "")
            if (method, comp) in self.service.streamed:
                stream = BodyStream(receive, asyncio.get_running_loop(), MAX_BODY)
                body = b""
            else:
                body = await _read_body(receive)
            request = _parse(self.service, scope, headers, body, request_id)
            request.stream = stream
            request.auth = authenticate(request)
            response = await self.handler(request)
        except StorageApiError as exc:
            response = render(exc, self.service.errors, request_id, method == "HEAD")
        except Exception:
            log.exception("The %s endpoint failed on %s %s.", self.service.name, method, scope.get("path"))
            failed = error(500, "InternalError", "The server encountered an internal error. Please retry the request.")
            response = render(failed, self.service.errors, request_id, method == "HEAD")
        if stream is not None:
            await stream.drain()
        await self._send(send, receive, response, headers, request_id, method)

    async def _send(self, send: Send, receive: Receive, response: StorageResponse, request_headers: dict[str, str],
                    request_id: str, method: str) -> None:
        out = dict(response.headers)
        out.setdefault("Server", self.service.server_header)
        out.setdefault("x-ms-request-id", request_id)
        out.setdefault("x-ms-version", request_headers.get("x-ms-version") or _version())
        # Date: added by the server (uvicorn's date header), as for every reply of the host.
        client_id = request_headers.get("x-ms-client-request-id")
        if client_id:
            out.setdefault("x-ms-client-request-id", client_id)
        if "Content-Length" not in out and "content-length" not in out:
            out["Content-Length"] = str(len(response.body))
        raw = [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in out.items()]
        if response.stream is not None:
            await _send_stream(send, receive, response.stream, response.status, raw, method == "HEAD")
            return
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})


async def _send_stream(send: Send, receive: Receive, stream: ResponseStream, status: int,
                       raw: list[tuple[bytes, bytes]], head: bool) -> None:
    """Send a download chunk by chunk, stopping when the client goes away (the server then drops what is sent,
    so only a watch on ``receive`` tells); the stream is closed in every case, which releases its reader."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if not head:
            async for chunk in stream:
                if gone.is_set():
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
        await stream.aclose()


def _version() -> str:
    from overcast.storage_api.request import API_VERSION

    return API_VERSION


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key.startswith("x-ms-meta-") or key in ("x-ms-blob-content-disposition", "content-disposition"):
            # Metadata values and file names are UTF-8 in practice (the SDKs send them so).
            with contextlib.suppress(UnicodeDecodeError):
                text = value.decode("utf-8")
        found[key] = f"{found[key]},{text}" if key in found else text
    return found


def _check_length(headers: dict[str, str]) -> None:
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise error(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                    "limit.", MaxLimit=str(MAX_BODY))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise error(400, "IncompleteBody", "The client closed the connection before sending the whole body.")
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _parse(service: Service, scope: Scope, headers: dict[str, str], body: bytes, request_id: str) -> StorageRequest:
    raw = scope.get("raw_path")
    raw_path = raw.decode("latin-1") if raw else scope["path"]
    raw_path = raw_path.partition("?")[0]
    path = unquote(raw_path)
    account, _, rest = path.lstrip("/").partition("/")
    if not account:
        raise error(400, "InvalidUri", "The requested URI does not represent any resource on the server: the path "
                    "must start with the account, as http://127.0.0.1:10000/devstoreaccount1/<container>.")
    params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    params = [(k, v) for k, v in params]
    query: dict[str, str] = {}
    for name, value in params:
        query.setdefault(name, value)
    return StorageRequest(service, scope["method"], account, rest, raw_path, query, params, headers, body,
                          request_id)
