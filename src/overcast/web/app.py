"""The ASGI application of one instance: the host's HTTP pipeline (§2.1) in one place.

Order: body-size check → CORS preflight → admin/runtime APIs → homepage → throttle → function route →
disabled/auth → invocation → response (+ custom headers, HSTS, CORS). Anything unexpected becomes an
empty 500 with the traceback in the host log; the pipeline itself never lets an exception reach the server.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from overcast.config.settings import Settings
from overcast.errors import BodyTooLarge
from overcast.invoke.dispatcher import Dispatcher
from overcast.invoke.model import Invocation
from overcast.web.asgi_io import Receive, Send, read_body, send_response
from overcast.web.cors import CorsPolicy
from overcast.web.http_in import joined_headers, joined_query, make_request, raw_path, request_url
from overcast.web.http_out import HttpReply, encode_http_return, reply_from_datum, reply_from_return
from overcast.web.keys import AuthLevel, KeyRing
from overcast.web.refusals import Refusal, RefusalLog
from overcast.web.routes import Router
from overcast.web.routing import FunctionRoute
from overcast.web.rpc_channel import channel_rest, redact, refusal
from overcast.web.throttle import Throttle

log = logging.getLogger("overcast.host.http")
REASON = "This function was programmatically called via the host APIs."
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# Kestrel's MaxRequestHeadersTotalSize: larger request headers get 431, before any routing.
MAX_HEADER_BYTES = 32 * 1024
HOMEPAGE = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Your Functions app is up and running</title></head>"
    b"<body style='font-family:sans-serif;margin:4em'><h1>Your Functions app is up and running</h1>"
    b"<p>Served by Overcast. See <code>/admin/functions</code> for the function list.</p></body></html>"
)
AdminHandler = Callable[[dict[str, Any], Receive, Send, dict[str, str], "Caller"], Awaitable[None]]
NativeHandler = Callable[[FunctionRoute, dict[str, Any], Receive, Send, dict[str, str]], Awaitable[None]]


class DurableApi(Protocol):
    """The durable HTTP API (``overcast.durable.api.http_api.DurableHttpApi``), served at two path prefixes:
    ``prefix`` needs the system key ``key_name`` or the master key (unless auth is off); ``rpc_prefix`` followed
    by the segment ``rpc_secret`` needs no key (see ``rpc_channel``)."""

    prefix: str
    rpc_prefix: str
    rpc_secret: str
    key_name: str

    async def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                     body: bytes, base_url: str, url: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
        ...


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@dataclass
class Caller:
    """Who is calling: the key presented and what it grants."""

    key: str | None
    level: AuthLevel | None
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.level is AuthLevel.ADMIN

    @property
    def presented(self) -> str | None:
        """What kind of key the request carried, for the refusal line (never the key itself)."""
        if not self.key:
            return None
        return "unknown" if self.level is None else self.level.name.lower()


@dataclass
class HostState:
    """Lifecycle as /admin/host/status reports it."""

    state: str = "Starting"
    errors: list[str] = field(default_factory=list)
    # Whether the stores' servers answer (BackendPool.readiness): a database that is down makes the instance not ready.
    storage_ready: Callable[[], bool] = lambda: True


class HostApp:
    def __init__(
        self,
        *,
        settings: Settings,
        router: Router[FunctionRoute],
        dispatcher: Dispatcher,
        keys: KeyRing | None,
        state: HostState,
        admin: AdminHandler,
        native: NativeHandler | None = None,
        streaming: NativeHandler | None = None,
        durable: DurableApi | None = None,
    ) -> None:
        http = settings.host_json.http
        self._router = router
        self._dispatcher = dispatcher
        self._keys = keys
        self._auth = settings.auth_enabled and keys is not None
        self.refusals = RefusalLog()
        self._state = state
        self._admin = admin
        self._native = native
        self._streaming = streaming
        self._limit = settings.body_limit
        self._cors = CorsPolicy(settings.cors_origins, settings.cors_credentials)
        self._throttle = Throttle(http.max_concurrent_requests, http.max_outstanding_requests)
        extra = list(http.custom_headers)
        if http.hsts_header:
            extra.append(("strict-transport-security", http.hsts_header))
        self._extra_headers = extra
        self._extra_encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]
        self._homepage_disabled = False
        self._durable = durable
        self._address = settings.address
        import os

        from overcast.config.truthy import parse_bool

        self._homepage_disabled = parse_bool(os.environ.get("AzureWebJobsDisableHomepage"))

    def attach_durable(self, api: DurableApi) -> None:
        """Serve the durable HTTP API (requests under its two prefixes go to it, before the admin routes); the host
        passes it to the constructor, tests that build the API after the app attach it here."""
        self._durable = api

    def caller(self, headers: dict[str, str], query: dict[str, str], function_name: str | None) -> Caller:
        key = headers.get("x-functions-key") or query.get("code")
        if not self._auth:
            return Caller(key, AuthLevel.ADMIN, "local")  # as `func start` without --enableAuth: all admin
        if not key or self._keys is None:
            return Caller(key, None)
        match = self._keys.authenticate(key, function_name)
        return Caller(key, match.level if match else None, match.name if match else None)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._http(scope, receive, send)
            except Exception:
                secret = self._durable.rpc_secret if self._durable is not None else None
                log.exception("Unhandled error while serving %s %s", scope.get("method"),
                              redact(str(scope.get("path")), secret))
                # If the response had already started this fails, and the server closes the connection.
                with contextlib.suppress(Exception):
                    await send_response(send, 500, self._extra_headers)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _headers_out(self, headers: list[tuple[str, str]], origin: str | None) -> list[tuple[str, str]]:
        if self._extra_headers:
            headers = headers + self._extra_headers
        if self._cors.enabled and origin is not None:
            headers = headers + self._cors.response_headers(origin)
        return headers

    async def _reply(self, send: Send, reply: HttpReply, origin: str | None, method: str) -> None:
        """Send a function's reply: its headers (framing headers are ours to set), then host-wide headers."""
        body = reply.body
        status = reply.status
        try:
            headers = [
                (k.encode("latin-1"), v.encode("latin-1", "replace"))
                for k, v in reply.headers
                if k.lower() not in _FRAMING
            ]
            bad = not 200 <= status <= 599 or any(
                not _TOKEN.fullmatch(k) or _CONTROL.search(v) for k, v in headers
            )
        except UnicodeEncodeError:
            bad = True
        if bad:
            # What the server could not put on the wire (a 1xx or 600+ status, a header name that is not a token, a
            # value with CR/LF): Kestrel fails such a response, so the client gets an empty 500, not a broken stream.
            log.error("The function's HTTP response cannot be sent (status %s or an invalid header); answering 500.",
                      status)
            headers, status, body = [], 500, b""
        headers.extend(self._extra_encoded)
        if origin is not None and self._cors.enabled:
            headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in self._cors.response_headers(origin))
        if status not in (204, 304):
            headers.append((b"content-length", str(len(body)).encode()))
        else:
            body = b""
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        raw_headers = scope["headers"]
        if sum(len(k) + len(v) + 4 for k, v in raw_headers) > MAX_HEADER_BYTES:  # ": " and CRLF per line
            await send_response(send, 431, [])
            return
        headers = joined_headers(scope)
        origin = headers.get("origin")
        if self._cors.enabled and origin is not None and method == "OPTIONS" and (
            "access-control-request-method" in headers
        ):
            cors = self._cors.preflight(origin, headers["access-control-request-method"],
                                        headers.get("access-control-request-headers"))
            await send_response(send, 204, cors + self._extra_headers)
            return
        lowered = path.lower()
        if self._durable is not None and _under(lowered, self._durable.prefix.lower()):
            await self._durable_request(scope, receive, send, headers, self._durable)
            return
        if lowered in ("/admin", "/runtime") or lowered.startswith(("/admin/", "/runtime/")):
            query = joined_query(scope.get("query_string", b""))
            await self._admin(scope, receive, send, headers, self.caller(headers, query, None))
            return
        if not self._throttle.enabled:
            await self._function(scope, receive, send, method, headers, origin)
            return
        if not self._throttle.try_enter():
            await send_response(send, 429, [("x-function-scaleout", "1"), *self._extra_headers])
            return
        try:
            await self._throttle.acquire()
            try:
                await self._function(scope, receive, send, method, headers, origin)
            finally:
                self._throttle.release()
        finally:
            self._throttle.leave()

    async def _durable_request(
        self, scope: dict[str, Any], receive: Receive, send: Send, headers: dict[str, str], api: DurableApi
    ) -> None:
        path: str = scope["path"]
        query = joined_query(scope.get("query_string", b""))
        channel = channel_rest(path, api.rpc_prefix, api.rpc_secret)
        if channel is not None:
            why = refusal(headers, (self._address,))
            if why is not None:
                log.warning("Refused a call on the durable client's channel: %s.", why)
                await send_response(send, 403, [])
                return
            rest = channel
        else:
            caller = self.caller(headers, query, None)
            if not (caller.is_admin or (caller.level is AuthLevel.SYSTEM
                                        and (caller.name or "").lower() == api.key_name.lower())):
                self.refusals.refused(Refusal(
                    "the durable HTTP API", "system", caller.presented, scope["method"], path,
                    needs=f"the system key '{api.key_name}' or the master key",
                ))
                await send_response(send, 401, [])
                return
            rest = path[len(api.prefix):]
        try:
            body = await read_body(receive, self._limit)
        except BodyTooLarge:
            await send_response(send, 413, [])
            return
        origin = request_url({**scope, "query_string": b""}, headers, "")
        status, reply_headers, reply = await api.handle(scope["method"], rest, query, headers, body, origin,
                                                        request_url(scope, headers))
        await send_response(send, status, reply_headers, reply, head=scope["method"] == "HEAD")

    async def _function(
        self, scope: dict[str, Any], receive: Receive, send: Send, method: str, headers: dict[str, str],
        origin: str | None,
    ) -> None:
        path = raw_path(scope)
        matched = self._router.match(method, path)
        if matched is None:
            if scope["path"] == "/" and method in ("GET", "HEAD"):
                if self._homepage_disabled:
                    await send_response(send, 204, self._headers_out([], origin))
                else:
                    await send_response(send, 200, self._headers_out([("content-type", "text/html")], origin),
                                        HOMEPAGE, head=method == "HEAD")
                return
            await send_response(send, 404, self._headers_out([], origin))
            return
        route, params = matched
        spec = route.spec
        query = joined_query(scope.get("query_string", b""))
        if spec.disabled or (self._auth and route.auth_level != "anonymous"):
            caller = self.caller(headers, query, spec.name)
            if spec.disabled and not (caller.is_admin and caller.name != "local"):
                await send_response(send, 404, self._headers_out([], origin))
                return
            if self._auth and route.auth_level != "anonymous" and not (
                caller.is_admin or (route.auth_level == "function" and caller.level is AuthLevel.FUNCTION)
            ):
                self.refusals.refused(Refusal(
                    f"function '{spec.name}'", route.auth_level, caller.presented, method, scope["path"]
                ))
                await send_response(send, 401, self._headers_out([], origin))
                return
        length_text = headers.get("content-length")
        try:
            length = int(length_text) if length_text else 0
        except ValueError:
            await send_response(send, 400, self._headers_out([], origin))
            return
        if length > self._limit:
            log.error("Request body too large for '%s'. The max request body size is %d bytes.", spec.name, self._limit)
            await send_response(send, 413, self._headers_out([], origin))
            return
        if spec.http_type == "asgi" and self._native is not None:
            await self._native(route, scope, receive, send, params)
            return
        if self._streaming is not None:
            await self._streaming(route, scope, receive, send, params)
            return
        try:
            # [QUIRK] the host sends a body only when Content-Length > 0 (chunked uploads arrive empty).
            body = await read_body(receive, self._limit) if length > 0 else b""
        except BodyTooLarge:
            await send_response(send, 413, self._headers_out([], origin))
            return
        invocation = Invocation(
            function=spec,
            trigger=None,
            direct_value=make_request(scope, headers, query, params, body, path),
            encode_return=encode_http_return,
            reason=REASON,
            traceparent=headers.get("traceparent"),
            tracestate=headers.get("tracestate"),
        )
        result = await self._dispatcher.invoke(invocation)
        if not result.succeeded:
            await send_response(send, 500, self._headers_out([], origin))
            return
        try:
            reply = self._http_output(route, result, headers.get("accept"))
        except (TypeError, ValueError, KeyError) as exc:
            log.error("Executed 'Functions.%s' produced an invalid HTTP response: %s", spec.name, exc)
            reply = HttpReply(500)
        await self._reply(send, reply, origin, method)

    @staticmethod
    def _http_output(route: FunctionRoute, result: Any, accept: str | None) -> HttpReply:
        """The response, as the host builds it: an http output the function set wins; otherwise the host's
        SetResponse runs on the function's return value (``reply_from_return``)."""
        spec = route.spec
        if spec.return_converter == "http":
            reply: HttpReply = result.return_value
            return reply
        for param in spec.params:
            if param.is_out and param.binding.type == "http":
                datum = result.outputs.get(param.name)
                if datum is not None:
                    return reply_from_datum(datum)
        return reply_from_return(result.return_value, accept)
