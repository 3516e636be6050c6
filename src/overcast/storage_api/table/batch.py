"""Entity group transactions: the ``multipart/mixed`` body of a ``$batch`` request and the body of its reply.

A batch holds one changeset of up to 100 operations (insert, update, merge, delete, their upserts) on entities of
one partition of one table; the service applies all of them or none. The reply lists one response per operation
when all succeeded, or the one failed operation's error (its message prefixed with its index) when not.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from overcast.errors import StorageApiError
from overcast.storage_api.errors import error

MAX_OPERATIONS = 100
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)


@dataclass(frozen=True)
class SubRequest:
    method: str
    path: str  # after the account: "mytable(PartitionKey='a',RowKey='b')"
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class SubResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


def bad_batch(detail: str) -> StorageApiError:
    return error(400, "InvalidInput", f"One of the request inputs is not valid. The batch request body is malformed: "
                 f"{detail}")


def boundary_of(content_type: str | None) -> str:
    match = _BOUNDARY.search(content_type or "")
    if match is None or "multipart/mixed" not in (content_type or "").lower():
        raise bad_batch("the Content-Type must be multipart/mixed with a boundary.")
    return match.group(1)


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise bad_batch(f"no part delimited by '{boundary}'.")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        parts.append(chunk.strip(b"\r\n"))
    return parts


def _head_and_body(part: bytes) -> tuple[dict[str, str], bytes]:
    normal = part.replace(b"\r\n", b"\n")
    head, _, rest = normal.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def parse_batch(body: bytes, content_type: str | None, account: str) -> list[SubRequest]:
    """The operations of the batch's changeset."""
    changesets = _parts(body, boundary_of(content_type))
    if len(changesets) != 1:
        raise bad_batch("a batch holds exactly one changeset (a query is sent on its own).")
    headers, inner = _head_and_body(changesets[0])
    requests: list[SubRequest] = []
    for part in _parts(inner, boundary_of(headers.get("content-type"))):
        _, http = _head_and_body(part)
        text = http.replace(b"\r\n", b"\n")
        request_line, _, rest = text.partition(b"\n")
        fields = request_line.decode("latin-1").split(" ")
        if len(fields) < 2:
            raise bad_batch(f"the operation line {request_line[:80]!r} has no method and URL.")
        sub_headers, sub_body = _head_and_body(rest)
        path = unquote(urlsplit(fields[1]).path).lstrip("/")
        first, _, after = path.partition("/")
        if first != account:
            raise bad_batch(f"the operation URL {fields[1]!r} is not in account '{account}'.")
        requests.append(SubRequest(fields[0].upper(), after, sub_headers, sub_body.strip(b"\n")))
    if not requests:
        raise bad_batch("the changeset has no operation.")
    if len(requests) > MAX_OPERATIONS:
        raise error(400, "InvalidInput", f"The batch request operation exceeds the maximum {MAX_OPERATIONS} changes "
                    f"per change set.")
    return requests


def render_batch(responses: list[SubResponse]) -> tuple[str, bytes]:
    """(Content-Type, body) of the batch reply holding ``responses`` in one changeset."""
    batch, changeset = f"batchresponse_{uuid.uuid4()}", f"changesetresponse_{uuid.uuid4()}"
    lines = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
    for response in responses:
        reason = HTTPStatus(response.status).phrase
        lines += [f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
                  f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        lines += ["", response.body.decode("utf-8")]
    lines += [f"--{changeset}--", f"--{batch}--", ""]
    return f"multipart/mixed; boundary={batch}", "\r\n".join(lines).encode("utf-8")
