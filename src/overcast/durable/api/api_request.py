"""The store-free half of the durable HTTP API: reading a request (query names are case-insensitive, values parsed
as the extension parses them) and the reply shapes, errors included (spec §6.4).

Handlers raise :class:`DurableApiError` with the reply to send; the router turns it into the response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from overcast.config import json_text
from overcast.durable.core.history import parse_timestamp
from overcast.durable.core.model import RuntimeStatus
from overcast.durable.store import DEFAULT_PAGE_SIZE
from overcast.errors import DurableApiError, InputError

Reply = tuple[int, list[tuple[str, str]], bytes]
JSON_TYPE = "application/json; charset=utf-8"
CONTINUATION_HEADER = "x-ms-continuation-token"
BAD_ARGUMENTS = "One or more of the arguments submitted is incorrect"
SOMETHING_WRONG = "Something went wrong while processing your request"
ARGUMENT_EXCEPTION = "System.ArgumentException"
INVALID_OPERATION = "System.InvalidOperationException"
JSON_EXCEPTION = "Newtonsoft.Json.JsonReaderException"
_SHORT_YEAR = re.compile(r"^(\d{1,3})-")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def json_reply(status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return status, [("Content-Type", JSON_TYPE), *headers], json.dumps(value).encode("utf-8")


def text_json_reply(status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """A body that already is JSON text (an output, an entity state)."""
    return status, [("Content-Type", JSON_TYPE), *headers], text.encode("utf-8")


def empty(status: int) -> Reply:
    return status, [], b""


def error_reply(status: int, message: str, exception_message: str, exception_type: str) -> Reply:
    """ASP.NET's ``CreateErrorResponse(status, message, exception)`` body; the SDK reads ``ExceptionMessage``."""
    body = {"Message": message, "ExceptionMessage": exception_message, "ExceptionType": exception_type,
            "StackTrace": None}
    return json_reply(status, body)


def bad_request(exception_message: str, message: str = BAD_ARGUMENTS,
                exception_type: str = ARGUMENT_EXCEPTION) -> DurableApiError:
    return DurableApiError(error_reply(400, message, exception_message, exception_type))


def server_error(exception_message: str, exception_type: str = INVALID_OPERATION) -> DurableApiError:
    return DurableApiError(error_reply(500, SOMETHING_WRONG, exception_message, exception_type))


def parse_json_text(text: str, what: str) -> None:
    """Raise a 400 unless ``text`` is one JSON document (NaN and Infinity are not JSON)."""
    try:
        json_text.loads(text, f"The {what}", parse_constant=_reject_constant)
    except InputError as problem:
        raise bad_request(str(problem), "Invalid JSON content", JSON_EXCEPTION) from None
    except ValueError as problem:
        raise bad_request(f"The {what} is not valid JSON: {problem}", "Invalid JSON content", JSON_EXCEPTION) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_time(text: str, name: str) -> float:
    """An ISO-8601 time (``2024-01-01T00:00:00.000000Z``, a bare date, or a year Python wrote without its leading
    zeros, as the extension accepts) as epoch seconds; naive times are UTC."""
    value = text.strip()
    short = _SHORT_YEAR.match(value)
    if short:
        value = short.group(1).zfill(4) + value[len(short.group(1)):]
    try:
        if _DATE_ONLY.match(value):
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
        return parse_timestamp(value).timestamp()
    except (ValueError, OverflowError):
        raise bad_request(f"'{name}' must be an ISO-8601 time such as 2024-01-01T00:00:00Z, got '{text}'.") from None


def parse_statuses(text: str | None) -> tuple[str, ...]:
    """A comma-separated ``runtimeStatus`` list as status names. An unknown name is a 400: ignoring it, as the
    extension does, would widen a purge to every status."""
    if not text:
        return ()
    try:
        return tuple(dict.fromkeys(RuntimeStatus.from_name(part).value for part in text.split(",") if part.strip()))
    except ValueError as problem:
        raise bad_request(f"'runtimeStatus': {problem}.") from None


@dataclass(frozen=True)
class ApiRequest:
    """One request to the durable API. ``segments``: the path after the API prefix, split at '/'."""

    method: str
    segments: tuple[str, ...]
    query: Mapping[str, str]  # names lower-cased
    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    origin: str  # scheme://host[:port] of the request, for the links in replies
    url: str  # the whole request URL (Location of a 202 status)

    @classmethod
    def build(cls, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes,
              origin: str, url: str) -> ApiRequest:
        lowered: dict[str, str] = {}
        for name, value in query.items():
            key = name.lower()
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
        segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        return cls(method.upper(), segments, lowered, {k.lower(): v for k, v in headers.items()}, body, origin, url)

    def text(self, name: str) -> str | None:
        value = self.query.get(name.lower())
        return value if value else None

    def flag(self, name: str, default: bool) -> bool:
        """``bool.TryParse``: true/false in any case; anything else (or nothing) is the default."""
        value = (self.text(name) or "").strip().lower()
        return {"true": True, "false": False}.get(value, default)

    def time(self, name: str) -> float | None:
        value = self.text(name)
        return None if value is None else parse_time(value, name)

    def seconds(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            return None  # the extension ignores what does not parse
        if not 0 <= seconds < 1e9:
            raise bad_request(f"'{name}' must be a number of seconds (0 or more), got '{value}'.")
        return seconds

    def top(self) -> int:
        value = self.text("top")
        try:
            top = int(value) if value is not None else DEFAULT_PAGE_SIZE
        except ValueError:
            top = DEFAULT_PAGE_SIZE
        return top if top > 0 else DEFAULT_PAGE_SIZE

    @property
    def continuation(self) -> str | None:
        token = self.headers.get(CONTINUATION_HEADER, "").split(",")[0].strip()
        return token or None

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def body_text(self, what: str) -> str:
        try:
            return self.body.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            raise bad_request(f"The {what} is not UTF-8 text.", "Invalid JSON content", JSON_EXCEPTION) from None
