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
