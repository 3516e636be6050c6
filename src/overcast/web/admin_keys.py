"""The admin key APIs (§3): function keys, host function/system keys and the master key."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from overcast.config import json_text
from overcast.errors import KeyPinnedError
from overcast.web.admin_request import AdminRequest, Route
from overcast.web.keys import KeyRing

_KINDS: dict[str, Literal["functionKeys", "systemKeys"]] = {
    "keys": "functionKeys",
    "functionkeys": "functionKeys",
    "systemkeys": "systemKeys",
}


class KeyApi:
    def __init__(self, keys: KeyRing, function_names: Iterable[str]) -> None:
        self._keys = keys
        self._functions = {n.lower(): n for n in function_names}

    def ensure_system_key(self, name: str) -> str:
        """The value of host system key ``name``, made if missing (an extension's webhook key)."""
        return self._keys.ensure_system_key(name)

    def routes(self) -> list[Route]:
        fn = r"/admin/functions/(?P<fn>[^/]+)/keys"
        host = r"/admin/host/(?P<kind>keys|functionkeys|systemkeys)"
        return [
            ("GET", re.compile(fn), True, self._list_function),
            ("GET|POST|PUT|DELETE", re.compile(fn + r"/(?P<key>[^/]+)"), True, self._function_key),
            ("GET", re.compile(host, re.IGNORECASE), True, self._list_host),
            ("GET|POST|PUT|DELETE", re.compile(host + r"/(?P<key>[^/]+)", re.IGNORECASE), True, self._host_key),
        ]

    @staticmethod
    def _entry(name: str, value: str, href: str) -> dict[str, Any]:
        return {"name": name, "value": value, "links": [{"rel": "self", "href": href}]}

    @staticmethod
    def _put_value(request: AdminRequest) -> str | tuple[int, Any] | None:
        """The value a PUT asks for (None for POST = generate); an error tuple for a bad body."""
        if request.method == "POST":
            return None
        try:
            body = json_text.loads(request.body or b"{}", "The request body")
        except ValueError:
            return 400, {"error": "Invalid key value"}
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            return 400, {"error": "Invalid key value"}
        return value

    async def _list_function(self, request: AdminRequest) -> tuple[int, Any]:
        name = self._functions.get(request.match["fn"].lower())
        if name is None:
            return 404, None
        href = f"{request.base_url}/admin/functions/{name}/keys"
        keys = [{"name": k, "value": v} for k, v in self._keys.function_keys(name).items()]
        return 200, {"keys": keys, "links": [{"rel": "self", "href": href}]}

    async def _function_key(self, request: AdminRequest) -> tuple[int, Any]:
        name = self._functions.get(request.match["fn"].lower())
        if name is None:
            return 404, None
        key = request.match["key"]
        href = f"{request.base_url}/admin/functions/{name}/keys/{key}"
        try:
            if request.method == "GET":
                value = self._keys.function_keys(name).get(key)
                return (404, None) if value is None else (200, self._entry(key, value, href))
            if request.method == "DELETE":
                return (204, None) if self._keys.delete_function_key(name, key) else (404, None)
            wanted = self._put_value(request)
            if isinstance(wanted, tuple):
                return wanted
            value, created = self._keys.set_function_key(name, key, wanted)
            return (201 if created else 200), self._entry(key, value, href)
        except KeyPinnedError as exc:
            return 409, {"error": str(exc)}
        except ValueError as exc:
            return 400, {"error": str(exc)}

    async def _list_host(self, request: AdminRequest) -> tuple[int, Any]:
        kind = _KINDS[request.match["kind"].lower()]
        href = f"{request.base_url}/admin/host/{request.match['kind']}"
        keys = [{"name": k, "value": v} for k, v in self._keys.host_keys(kind).items()]
        return 200, {"keys": keys, "links": [{"rel": "self", "href": href}]}

    async def _host_key(self, request: AdminRequest) -> tuple[int, Any]:
        kind = _KINDS[request.match["kind"].lower()]
        key = request.match["key"]
        href = f"{request.base_url}/admin/host/{request.match['kind']}/{key}"
        try:
            if request.method == "GET":
                value = self._keys.get_host_key(kind, key)
                return (404, None) if value is None else (200, self._entry(key, value, href))
            if request.method == "DELETE":
                return (204, None) if self._keys.delete_host_key(kind, key) else (404, None)
            wanted = self._put_value(request)
            if isinstance(wanted, tuple):
                return wanted
            value, created = self._keys.set_host_key(kind, key, wanted)
            return (201 if created else 200), self._entry(key, value, href)
        except KeyPinnedError as exc:
            return 409, {"error": str(exc)}
        except ValueError as exc:
            return 400, {"error": str(exc)}
