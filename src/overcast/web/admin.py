"""The host's admin and runtime endpoints (§3): status, ping, function metadata, manual invoke, keys, health."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from overcast import __version__
from overcast.app.index import AppIndex
from overcast.app.spec import FunctionSpec
from overcast.bindings.io import BindingIO
from overcast.config import json_text
from overcast.errors import BodyTooLarge, OvercastError
from overcast.invoke.dispatcher import Dispatcher
from overcast.kinds import kind_of
from overcast.web.admin_keys import KeyApi
from overcast.web.admin_request import AdminRequest, Handler
from overcast.web.app import Caller, HostState
from overcast.web.asgi_io import Receive, Send, read_body, send_response
from overcast.web.http_in import request_url
from overcast.web.refusals import Refusal, RefusalLog

log = logging.getLogger("overcast.host.admin")
HOST_VERSION = "4.1037.0.0"  # the Functions host version whose behaviour Overcast follows
JSON = [("content-type", "application/json; charset=utf-8")]
NO_CACHE = [("cache-control", "no-store, no-cache")]
WarmupRunner = Callable[[], Awaitable[Any]]  # the instance's Warmup.run: a Result, or None if nothing ran
_ANY_METHOD = "GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS"


class AdminApi:
    """Routes admin requests; every handler returns (status, JSON-able body or None)."""

    def __init__(
        self,
        *,
        index: AppIndex,
        dispatcher: Dispatcher,
        state: HostState,
        host_id: str,
        keys: KeyApi | None,
        route_prefix: str,
        webhooks: dict[str, Any] | None = None,
        refusals: RefusalLog | None = None,
        warmup: WarmupRunner | None = None,
    ) -> None:
        self._index = index
        self._dispatcher = dispatcher
        self._state = state
        self._host_id = host_id
        self._keys = keys
        self._prefix = route_prefix
        self._started = time.monotonic()
        self._background: set[asyncio.Task[Any]] = set()
        self.webhooks = webhooks or {}
        for hook in self.webhooks.values():  # an extension's system key exists from the start, as on Azure
            name = getattr(hook, "system_key", None)
            if name and keys is not None:
                hook.key_value = keys.ensure_system_key(name)
        self._refusals = refusals or RefusalLog()
        self._warmup = warmup
        anonymous, admin = False, True
        self._routes: list[tuple[str, re.Pattern[str], bool, Handler]] = [
            ("GET|POST", re.compile(r"/admin/host/ping"), anonymous, self._ping),
            ("GET", re.compile(r"/admin/host/status"), admin, self._status),
            ("GET", re.compile(r"/runtime/health(?:/(?P<kind>live|ready))?"), anonymous, self._health),
            ("GET", re.compile(r"/admin/functions"), admin, self._functions),
            ("GET", re.compile(r"/admin/functions/(?P<name>[^/]+)"), admin, self._function),
            ("POST", re.compile(r"/admin/functions/(?P<name>[^/]+)"), admin, self._invoke),
            ("GET", re.compile(r"/admin/functions/(?P<name>[^/]+)/status"), admin, self._function_status),
            # As on the host: any method, anonymous. It runs the warmup function at most once per instance, and each
            # instance already ran it before serving, so an outside caller cannot make it run user code again.
            (_ANY_METHOD, re.compile(r"/admin/warmup", re.IGNORECASE), anonymous, self._run_warmup),
        ]
        if keys is not None:
            self._routes.extend(keys.routes())

    async def __call__(
        self, scope: dict[str, Any], receive: Receive, send: Send, headers: dict[str, str], caller: Caller
    ) -> None:
        path = scope["path"].rstrip("/") or "/"
        method = scope["method"]
        found_path = False
        for methods, pattern, needs_admin, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            found_path = True
            if method not in methods.split("|"):
                continue
            if needs_admin and not caller.is_admin:
                self._refusals.refused(Refusal("the admin API", "admin", caller.presented, method, path))
                await send_response(send, 401, [])
                return
            try:
                body = await read_body(receive, 1 << 20) if method in ("POST", "PUT") else b""
            except BodyTooLarge:
                await send_response(send, 413, [])
                return
            base = request_url({**scope, "raw_path": b"", "query_string": b""}, headers).rstrip("/")
            status, payload = await handler(AdminRequest(method, match, body, caller, base))
            extra = NO_CACHE if handler == self._ping else []
            if payload is None:
                await send_response(send, status, extra)
            else:
                await send_response(send, status, JSON + extra, json.dumps(payload).encode())
            return
        webhook = re.fullmatch(r"/runtime/webhooks/(?P<ext>[^/]+)(?P<rest>/.*)?", path, re.IGNORECASE)
        if webhook and webhook["ext"].lower() in self.webhooks:
            await self.webhooks[webhook["ext"].lower()](scope, receive, send, headers, caller)
            return
        await send_response(send, 405 if found_path else 404, [])

    # -- host ---------------------------------------------------------------------------------------------
    async def _ping(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, None

    async def _status(self, request: AdminRequest) -> tuple[int, Any]:
        body: dict[str, Any] = {
            "id": self._host_id,
            "state": self._state.state,
            "version": HOST_VERSION,
            "versionDetails": f"Overcast {__version__}",
            "processUptime": int((time.monotonic() - self._started) * 1000),
            "functionAppContentEditingState": "Unknown",
        }
        if self._state.errors:
            body["errors"] = list(self._state.errors)
        return 200, body

    async def _health(self, request: AdminRequest) -> tuple[int, Any]:
        if request.match["kind"] == "live":
            return 200, {"status": "Healthy"}
        ready = self._state.state == "Running"
        body = {"status": "Healthy", "state": self._state.state}
        if ready and not self._state.storage_ready():
            ready, body["storage"] = False, "Unreachable"  # back off, reconnect; this instance takes no traffic
        if not ready:
            body["status"] = "Unhealthy"
        return (200 if ready else 503), body

    async def _run_warmup(self, request: AdminRequest) -> tuple[int, Any]:
        """Run the warmup function if this instance has not yet (it normally has, before it served anything):
        200 with an empty body, or 500 if the function failed, as the host answers."""
        result = await self._warmup() if self._warmup is not None else None
        return (500 if result is not None and not result.succeeded else 200), None

    # -- functions ----------------------------------------------------------------------------------------
    def _find(self, name: str) -> FunctionSpec | None:
        return self._index.get(name)

    def metadata(self, spec: FunctionSpec, base: str) -> dict[str, Any]:
        href = f"{base}/admin/functions/{spec.name}"
        body: dict[str, Any] = {
            "name": spec.name,
            "script_root_path_href": f"{base}/admin/vfs/{spec.name}/",
            "script_href": f"{base}/admin/vfs/{spec.script_file}",
            "config_href": f"{base}/admin/vfs/{spec.name}/function.json",
            "test_data_href": None,
            "href": href,
            "invoke_url_template": None,
            "language": "python",
            "config": {"bindings": [dict(b.raw) for b in spec.bindings], "disabled": spec.disabled},
            "files": None,
            "test_data": None,
            "isDisabled": spec.disabled,
            "isDirect": True,
            "isProxy": False,
        }
        if spec.is_http:
            route = spec.trigger.get("route") or spec.name
            prefix = f"{self._prefix}/" if self._prefix else ""
            body["invoke_url_template"] = f"{base}/{prefix}{str(route).lstrip('/')}"
        return body

    async def _functions(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, [self.metadata(f, request.base_url) for f in self._index.functions]

    async def _function(self, request: AdminRequest) -> tuple[int, Any]:
        spec = self._find(request.match["name"])
        return (404, None) if spec is None else (200, self.metadata(spec, request.base_url))

    async def _function_status(self, request: AdminRequest) -> tuple[int, Any]:
        spec = self._find(request.match["name"])
        if spec is None:
            return 404, None
        return 200, ({"errors": list(spec.errors)} if spec.errors else {})

    async def _invoke(self, request: AdminRequest) -> tuple[int, Any]:
        spec = self._find(request.match["name"])
        if spec is None or spec.in_error:
            return 404, None
        try:
            payload = json_text.loads(request.body or b"null", "The request body")
        except ValueError:
            return 400, {"error": "The request body must be JSON like {\"input\": \"...\"}."}
        if not isinstance(payload, dict) or not isinstance(payload.get("input", ""), str):
            return 400, {"error": "The request body must be a JSON object with a string \"input\"."}
        text = payload.get("input") or ""
        try:
            loader = self._dispatcher.binding_io
            values = loader if isinstance(loader, BindingIO) else None  # the stores a manual call may read
            invocation = await kind_of(spec.trigger.type).manual_invocation(spec, text, values)
        except OvercastError as exc:
            return 400, {"error": str(exc)}
        task = asyncio.get_running_loop().create_task(self._dispatcher.invoke(invocation))
        self._background.add(task)  # keep a reference: the result is only logged, as in the host
        task.add_done_callback(self._background.discard)
        return 202, None
