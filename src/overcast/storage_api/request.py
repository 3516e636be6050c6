"""A Storage REST request as the handlers see it, and the reply they return."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

ErrorFormat = Literal["xml", "json"]


class BodySource(Protocol):
    """A request body that arrives while it is read (:class:`overcast.storage_api.streaming.BodyStream`)."""

    def chunks(self) -> Iterator[bytes]: ...


class ResponseStream(Protocol):
    """A response body sent as it is read (:class:`overcast.storage_api.streaming.OffLoopChunks`)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Service:
    name: str  # "blob", "queue", "table": also the SAS canonical resource's first segment and `ss` letter's word
    default_port: int
    port_setting: str  # the environment variable that moves it
    handler: str  # "module:function" of the factory (ServiceEnv) -> Handler
    errors: ErrorFormat  # how its error bodies are written
    server_header: str  # what Azure's Server header says for it
    streamed: tuple[tuple[str, str], ...] = ()  # (method, comp) of the requests whose bodies stream to the store


@dataclass(frozen=True)
class Sas:
    """A SAS token's fields as sent (``sp``, ``st``, ``se`` may be empty when a stored access policy gives them)."""

    account: bool  # an account SAS (ss, srt) rather than a service SAS
    permissions: str
    start: str
    expiry: str
    services: str = ""
    resource_types: str = ""
    resource: str = ""  # sr of a blob service SAS: c (container), b (blob)
    identifier: str = ""  # si: a stored access policy of the container / queue / table
    ip: str = ""
    protocol: str = ""


@dataclass(frozen=True)
class Auth:
    scheme: str  # "SharedKey", "SharedKeyLite", "SAS" or "Anonymous"
    sas: Sas | None = None

    @property
    def anonymous(self) -> bool:
        return self.scheme == "Anonymous"


@dataclass
class StorageRequest:
    """One request, path-style: ``/<account>/<path>``.

    ``path`` is the decoded rest after the account (``container/dir/blob.txt``; ``""`` for the account itself);
    ``raw_path`` the whole path as sent (percent-encoded), which SharedKey signs. ``query`` holds each parameter's
    first value, decoded, under its name as sent; ``params`` every (name, value) pair. ``headers`` are keyed by
    lower-case name (repeated headers joined with ``,``). The body is ``body``, read whole, except for the requests
    the service streams (uploads): then ``body`` is empty and ``stream`` gives it piece by piece (:meth:`chunks`).
    """

    service: Service
    method: str
    account: str
    path: str
    raw_path: str
    query: dict[str, str]
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    request_id: str
    auth: Auth | None = None  # set once authenticated
    stream: BodySource | None = None

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces (blocking when streamed: iterate it in a store thread)."""
        if self.stream is not None:
            yield from self.stream.chunks()
        elif self.body:
            yield self.body

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def comp(self) -> str:
        return self.query.get("comp", "")

    @property
    def restype(self) -> str:
        return self.query.get("restype", "")

    @property
    def version(self) -> str:
        """The API version the client asked for (``x-ms-version``); ours when it sent none."""
        return self.headers.get("x-ms-version") or API_VERSION

    @property
    def resource(self) -> tuple[str, str]:
        """(first segment, the rest): for blob (container, blob name), for queue (queue, "messages/..."), ..."""
        first, _, rest = self.path.partition("/")
        return first, rest


@dataclass
class StorageResponse:
    """A reply; ``stream`` (a download) replaces ``body``, and the handler sets its Content-Length."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: ResponseStream | None = None


API_VERSION = "2025-11-05"  # the newest REST version the endpoints answer as (x-ms-version when the client sent none)
