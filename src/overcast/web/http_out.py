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
    without the Datums and werkzeug lookups. ``tests/unit/web/test_http_conversion.py`` proves the equivalence.
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


JSON_UTF8 = "application/json; charset=utf-8"


def _accepted(accept: str | None) -> list[str]:
    """Media types of an Accept header by quality (stable), or [] when content negotiation does not apply.

    ASP.NET Core ignores the header when it is absent or lists ``*/*`` (RespectBrowserAcceptHeader is off).
    """
    if not accept:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        media = media.lower()
        if not media:
            continue
        if media == "*/*":
            return []
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media))
    return [media for _, _, media in sorted(ranked)]


def _covers(accepted: str, supported: str) -> bool:
    kind, _, sub = accepted.partition("/")
    skind, _, ssub = supported.partition("/")
    return kind == skind and (sub in ("*", ssub) or (ssub.endswith("+json") and sub == ssub))


_JSON_TYPES = ("application/json", "text/json")


def _negotiate(accept: str | None, is_string: bool) -> str:
    """The content type ASP.NET Core's formatters pick: text/plain for strings, else JSON (the host's Newtonsoft)."""
    for media in _accepted(accept):
        if is_string and _covers(media, "text/plain"):
            return TEXT_PLAIN
        for json_type in _JSON_TYPES:
            if _covers(media, json_type):
                return f"{json_type}; charset=utf-8"
        if media.startswith("application/") and media.endswith("+json"):
            return f"{media}; charset=utf-8"
    # No formatter for what was asked (or nothing asked): the first one that can write the value.
    return TEXT_PLAIN if is_string else JSON_UTF8


def _dotnet_json(value: Any) -> bytes:
    """Newtonsoft's compact output: no spaces, non-ASCII written as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def reply_from_return(datum: Any, accept: str | None) -> HttpReply:
    """The response when no http output set one: the host's ``HttpBinding.SetResponse`` on the function's return.

    The host hands the return value (of a ``$return`` binding of another type, or an implicit output) to ASP.NET
    Core as an ``ObjectResult``: ``None`` is 204 No Content, a string is text/plain, anything else JSON (bytes as a
    base64 string), with content negotiation on the Accept header.
    """
    if datum is None or datum.type is None:
        return HttpReply(204)
    kind, value = datum.type, datum.value
    if kind == "string":
        content_type = _negotiate(accept, is_string=True)
        body = value.encode("utf-8", "surrogatepass") if content_type == TEXT_PLAIN else _dotnet_json(value)
        return HttpReply(200, [("content-type", content_type)], body)
    if kind == "bytes":
        import base64

        encoded: Any = base64.b64encode(bytes(value)).decode("ascii")
    elif kind == "json":
        try:
            encoded = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise TypeError(f"the return value is not valid JSON: {exc}") from None
    elif kind in ("int", "double"):
        encoded = value
    else:
        raise TypeError(f"unsupported return value of type {kind!r} for an HTTP response")
    return HttpReply(200, [("content-type", _negotiate(accept, is_string=False))], _dotnet_json(encoded))
