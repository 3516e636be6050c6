"""Function result → HTTP response, with the host's conversions (§2.5), including the string-as-JSON quirk."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

TEXT_PLAIN = "text/plain; charset=utf-8"


@dataclass
class HttpReply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _dotnet_scalar(value: Any) -> str:
    """How Newtonsoft's JValue.ToString() writes a JSON scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _lookup(obj: dict[str, Any], key: str) -> Any:
    lowered = key.lower()
    return next((v for k, v in obj.items() if k.lower() == lowered), None)


def _response_object(obj: dict[str, Any]) -> HttpReply:
    """A JSON object with a "body" key is read as a response description (HttpBinding.CreateResult)."""
    body = _lookup(obj, "body")
    if isinstance(body, (dict, list)):
        data = json.dumps(body, separators=(",", ":")).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = _dotnet_scalar(body).encode()
    status_raw = _lookup(obj, "statusCode")
    if status_raw is None:
        status_raw = _lookup(obj, "status")
    try:
        status = int(str(status_raw)) if status_raw is not None else 200
    except ValueError:
        status = 200
    if not 100 <= status <= 999:
        status = 200
    headers: list[tuple[str, str]] = []
    raw_headers = _lookup(obj, "headers")
    if isinstance(raw_headers, dict):
        headers = [(str(k), _dotnet_scalar(v) if not isinstance(v, str) else v) for k, v in raw_headers.items()]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", TEXT_PLAIN))
    cookies = _lookup(obj, "cookies")
    if isinstance(cookies, list):
        headers.extend(("set-cookie", str(c)) for c in cookies if isinstance(c, str))
    return HttpReply(status, headers, data)


def reply_from_string(text: str) -> HttpReply:
    """A function returned ``str`` for an http output: the host runs it through a JSON parser first [QUIRK]."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return HttpReply(200, [("content-type", TEXT_PLAIN)], text.encode("utf-8", "surrogatepass"))
    if isinstance(parsed, dict):
        if any(k.lower() == "body" for k in parsed):
            return _response_object(parsed)
        return HttpReply(200, [("content-type", TEXT_PLAIN)], json.dumps(parsed, indent=2).encode())
    if isinstance(parsed, list):
        return HttpReply(200, [("content-type", TEXT_PLAIN)], json.dumps(parsed, indent=2).encode())
    return HttpReply(200, [("content-type", TEXT_PLAIN)], _dotnet_scalar(parsed).encode())


def reply_from_datum(datum: Any) -> HttpReply:
    """An encoded http output (Datum of type 'http' or 'string'); raises TypeError for anything else."""
    if datum is None:
        return HttpReply(204)
    if datum.type == "string":
        return reply_from_string(datum.value)
    if datum.type != "http":
        raise TypeError(f"unsupported http output of type {datum.type!r}")
    value = datum.value
    status = int(value["status_code"].value)
    headers: list[tuple[str, str]] = [(name, h.value) for name, h in value["headers"].items()]
    for cookie in value.get("cookies") or ():
        headers.extend(("set-cookie", morsel.OutputString()) for morsel in cookie.values())
    body = value["body"].value if value.get("body") is not None else b""
    if isinstance(body, str):
        body = body.encode()
    return HttpReply(status, headers, bytes(body or b""))


_RESPONSE_TYPE: Any = None


def reply_from_response(response: Any) -> HttpReply:
    """``func.HttpResponse`` → reply, exactly as ``HttpResponseConverter.encode`` + :func:`reply_from_datum` do
    (default content type from mimetype/charset, one value per header name, ``Set-Cookie`` parsed as cookies),
    without the Datums and werkzeug lookups. ``tests/unit/test_http_conversion.py`` proves the equivalence.
    """
    from http.cookies import SimpleCookie

    flat: dict[str, str] = {}
    cookies: list[str] = []
    has_type = False
    for name, value in response.headers.items():
        lowered = name.lower()
        if lowered == "set-cookie":
            cookies.append(value)
            continue
        if lowered == "content-type":
            has_type = True
        flat[name] = value
    if not has_type:
        mimetype = response.mimetype
        flat["content-type"] = f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/") else mimetype
    headers = list(flat.items())
    for cookie in cookies:
        headers.extend(("set-cookie", morsel.OutputString()) for morsel in SimpleCookie(cookie).values())
    return HttpReply(int(response.status_code), headers, response.get_body() or b"")


def encode_http_return(value: Any) -> HttpReply:
    """Encode what a function returned through an ``http`` output; raises TypeError like the worker's encoder."""
    global _RESPONSE_TYPE
    if _RESPONSE_TYPE is None:
        from azure.functions import HttpResponse

        _RESPONSE_TYPE = HttpResponse
    if type(value) is _RESPONSE_TYPE:
        return reply_from_response(value)
    from overcast.app.converters import get_converter

    try:
        datum = get_converter("http").encode(value, expected_type=None)
    except NotImplementedError:
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "http" for Python type "{type(value).__name__}"'
        ) from None
    return reply_from_datum(datum)
