"""The entity routes of the durable HTTP API (spec §5.5, §6.4): read a state, list entities, signal an operation.

A signal becomes the same inbox message an orchestration's ``signal_entity`` produces (``EventRaised{Name: "op",
Input: RequestMessage JSON}``), with no parent, as the extension writes for a client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from overcast.config import json_text
from overcast.durable.api.api_request import (
    CONTINUATION_HEADER,
    JSON_EXCEPTION,
    ApiRequest,
    Reply,
    bad_request,
    empty,
    json_reply,
)
from overcast.durable.api.status_json import parse_stored
from overcast.durable.commit import ENTITY_OPERATION_EVENT
from overcast.durable.core import history as h
from overcast.durable.core.entities import parse_entity_id, request_message, scheduler_id
from overcast.durable.store import DurableStore, EntityRecord, NewMessage
from overcast.errors import InputError

EMPTY_KEY = "$"  # the extension's spelling of the empty key in entity URLs
_INVALID_KEY_CHARS = frozenset("/\\#?")
T = TypeVar("T")


class StoreCall(Protocol):
    """Runs a blocking store call off the event loop (``asyncio.to_thread``, or the host's ``StoreIO``)."""

    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


class EntityApi(Protocol):
    """What the entity routes use of the API that serves them (``http_api.DurableHttpApi``), named here so that
    this module does not import that one (which imports this one)."""

    store: DurableStore
    io: StoreCall

    def now(self) -> datetime: ...

    def hub_of(self, request: ApiRequest) -> tuple[str, bool]: ...

    async def page(self, query: Callable[..., T], *args: Any) -> T: ...

    def payload_text(self, request: ApiRequest, what: str) -> str: ...

    async def send(self, hub: str, message: NewMessage) -> None: ...


def client_signal(operation: str, input_text: str | None) -> str:
    """The RequestMessage JSON of a signal from a client: ``request_message`` with no parent (null, as the
    extension sends for clients; the entity answers nobody)."""
    message = json.loads(request_message(request_id=str(uuid.uuid4()), operation=operation, input_text=input_text,
                                          is_signal=True, parent_instance_id="", parent_execution_id=""))
    message["parent"] = message["parentExecution"] = None
    return json.dumps(message)


def _key_problem(key: str) -> str | None:
    if any(char in _INVALID_KEY_CHARS or ord(char) < 32 or 127 <= ord(char) < 160 for char in key):
        return "Entity keys must not contain /, \\, #, ?, or control characters."
    return None


class EntityRoutes:
    """``entities/{name}/{key}`` GET (state) / POST (signal ``op``) / DELETE (signal "delete"), ``entities/{name}``
    GET (list)."""

    def __init__(self, api: EntityApi, entity_exists: Callable[[str], bool] | None) -> None:
        self._api = api
        self._entity_exists = entity_exists

    async def route(self, request: ApiRequest) -> Reply:
        parts, method = request.segments, request.method
        name = parts[1].lower() if len(parts) > 1 else ""
        key = parts[2] if len(parts) > 2 else ""
        if method == "GET":
            return await (self._state(request, name, key) if key else self._list(request, name))
        if method in ("POST", "DELETE") and name:
            operation = "delete" if method == "DELETE" else (request.text("op") or "")
            return await self._signal(request, name, key, operation)
        return empty(404)

    async def _state(self, request: ApiRequest, name: str, key: str) -> Reply:
        hub, _ = self._api.hub_of(request)
        key = "" if key == EMPTY_KEY else key
        if not name or not key:
            return empty(404)  # the Python SDK cannot create an entity with an empty key
        record: EntityRecord | None = await self._api.io(self._api.store.get_entity, hub, scheduler_id(name, key))
        if record is None:
            return empty(404)
        return json_reply(200, parse_stored(record.state))

    async def _list(self, request: ApiRequest, name: str) -> Reply:
        hub, _ = self._api.hub_of(request)
        since, until = request.time("lastOperationTimeFrom"), request.time("lastOperationTimeTo")
        fetch_state = request.flag("fetchState", False)
        page = await self._api.page(self._api.store.query_entities, hub, name or None, request.top(),
                                    request.continuation)
        body = [
            _entity_status(record, fetch_state)
            for record in page.items
            if (since is None or record.last_modified_time >= since)
            and (until is None or record.last_modified_time <= until)
        ]
        headers = [(CONTINUATION_HEADER, page.continuation)] if page.continuation else []
        return json_reply(200, body, headers)

    async def _signal(self, request: ApiRequest, name: str, key: str, operation: str) -> Reply:
        hub, own = self._api.hub_of(request)
        key = "" if key == EMPTY_KEY else key
        if not key:
            raise bad_request(f"Entity '{name}' needs a key: the Python SDK cannot address an entity with an empty "
                              "key.")
        if (problem := _key_problem(key)) is not None:
            raise bad_request(problem)
        if own and self._entity_exists is not None and not self._entity_exists(name):
            raise bad_request(f"The function '{name}' doesn't exist, is disabled, or is not an entity function.")
        input_text: str | None = None
        if request.body:
            text = self._api.payload_text(request, "operation input")
            if request.media_type == "application/json":
                try:
                    json_text.loads(text, "The operation input")
                except InputError as problem:
                    raise bad_request(str(problem), "Could not parse JSON content", JSON_EXCEPTION) from None
                except ValueError as problem:
                    raise bad_request(f"Could not parse JSON content: {problem}", "Could not parse JSON content",
                                      JSON_EXCEPTION) from None
                input_text = text  # the SDK's double-encoded body is already the batch input form (spec §5.5)
            else:
                input_text = json.dumps(text)  # other content types arrive as a string
        message = client_signal(operation, input_text)
        event = h.event_raised(ENTITY_OPERATION_EVENT, message, self._api.now())
        await self._api.send(hub, NewMessage(scheduler_id(name, key), event))
        return empty(202)


def _entity_status(record: EntityRecord, fetch_state: bool) -> dict[str, Any]:
    name, key = parse_entity_id(record.entity_id)
    status: dict[str, Any] = {
        "entityId": {"name": name, "key": key},
        "lastOperationTime": h.format_timestamp(datetime.fromtimestamp(record.last_modified_time, timezone.utc)),
    }
    if fetch_state:
        status["state"] = parse_stored(record.state)
    return status
