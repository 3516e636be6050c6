"""ASGI request → the HTTP trigger Datum the library's HttpRequest converter expects (host semantics §2.4)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl


def joined_headers(scope: dict[str, Any]) -> dict[str, str]:
    """Lower-cased header names; repeated headers joined with ',' (empty values kept)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def joined_query(query_string: bytes) -> dict[str, str]:
    """Each key once, repeated values joined with ','; keys with an empty value are dropped (host quirk)."""
    query: dict[str, str] = {}
    if not query_string:
        return query
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=False, encoding="utf-8",
                                errors="replace"):
        query[key] = f"{query[key]},{value}" if key in query else value
    return query


def raw_path(scope: dict[str, Any]) -> str:
    raw = scope.get("raw_path")
    if raw:
        return str(raw.decode("latin-1")).split("?", 1)[0]
    from urllib.parse import quote

    return quote(scope.get("path", "/"))


def request_url(scope: dict[str, Any], headers: dict[str, str], path: str | None = None) -> str:
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    query = scope.get("query_string") or b""
    suffix = f"?{query.decode('latin-1')}" if query else ""
    return f"{scope.get('scheme', 'http')}://{host}{path if path is not None else raw_path(scope)}{suffix}"


def http_datum(
    scope: dict[str, Any], headers: dict[str, str], query: dict[str, str], params: dict[str, str], body: bytes
) -> Any:
    from azure.functions.meta import Datum

    return Datum(
        type="http",
        value={
            "method": Datum(scope["method"], "string"),
            "url": Datum(request_url(scope, headers), "string"),
            "headers": {k: Datum(v, "string") for k, v in headers.items()},
            "query": {k: Datum(v, "string") for k, v in query.items()},
            "params": {k: Datum(v, "string") for k, v in params.items()},
            "body": Datum(body, "bytes"),
        },
    )


def make_request(
    scope: dict[str, Any], headers: dict[str, str], query: dict[str, str], params: dict[str, str], body: bytes,
    path: str | None = None,
) -> Any:
    """The library's ``func.HttpRequest`` built with exactly the arguments its converter passes when it decodes
    :func:`http_datum` (``HttpRequestConverter.decode``), without the intermediate Datums: this is the hot path
    of every HTTP invocation. ``tests/unit/web/test_http_conversion.py`` proves both give the same request.
    """
    from azure.functions.http import HttpRequest

    return HttpRequest(
        method=scope["method"],
        url=request_url(scope, headers, path),
        headers=headers,
        params=query,
        route_params=params,
        body_type="bytes",
        body=body,
    )
