"""The durable HTTP API (spec §6.4): the routes ``DurableOrchestrationClient`` calls and Azure's webhooks, framework
free. The web layer calls :meth:`DurableHttpApi.handle` for requests under both API prefixes (see ``client_binding``).

The API validates, writes the right message into the instance's (or entity's) inbox with the ``history`` builders
and answers; what a message does (terminate, suspend, rewind...) is the engine's business. It never raises: a
request it cannot serve gets the extension's status code and body, anything unexpected a 500 that is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from overcast.durable.api.api_request import (
    CONTINUATION_HEADER,
    ApiRequest,
    Reply,
    bad_request,
    empty,
    json_reply,
    parse_json_text,
    parse_statuses,
    server_error,
    text_json_reply,
)
from overcast.durable.api.client_binding import (
    RPC_PATH,
    SYSTEM_KEY_NAME,
    WEBHOOK_PATH,
    WebhookLinks,
    check_status_headers,
    new_rpc_secret,
)
from overcast.durable.api.http_entities import EntityRoutes, StoreCall
from overcast.durable.api.status_json import parse_stored, status_payload
from overcast.durable.core import history as h
from overcast.durable.core import payloads
from overcast.durable.core.model import instance_id_problem, task_hub_problem, text_problem
from overcast.durable.store import (
    CANCELED,
    COMPLETED,
    FAILED,
    PENDING,
    SUSPENDED,
    TERMINATED,
    DurableStore,
    EventDict,
    InstanceQuery,
    InstanceRecord,
    NewMessage,
    NewOrchestration,
)
from overcast.errors import DurableApiError, StoreError

log = logging.getLogger("overcast.host.durable")
T = TypeVar("T")
FINISHED = frozenset({COMPLETED, FAILED, TERMINATED, CANCELED})
STILL_RUNNING_RETRY_AFTER = "5"
MIN_POLL_SECONDS = 0.01


def execution_rewound(reason: str | None, now: datetime) -> EventDict:
    """The rewind request: ``history`` has no builder for ExecutionRewound (21, unknown to the SDK), so this one
    writes the same envelope as every other event."""
    return {"EventType": int(h.EventType.EXECUTION_REWOUND), "EventId": -1, "IsPlayed": False,
            "Timestamp": h.format_timestamp(now), "Reason": reason}


class DurableHttpApi:
    """Every route of §6.4 over one DurableStore; ``hub`` is the app's task hub (``taskHub=`` selects another).

    ``orchestrator_exists`` / ``entity_exists`` (case-insensitive names) are checked for the app's own hub only, as
    the extension does; ``wake`` is called after every message written; ``system_key`` gives the
    ``durabletask_extension`` key for links (None when auth is off); ``clock`` is epoch seconds; ``rpc_secret`` is
    the path segment after ``rpc_prefix`` that admits the SDK client's keyless calls (see ``client_binding``).
    """

    prefix = WEBHOOK_PATH
    rpc_prefix = RPC_PATH
    key_name = SYSTEM_KEY_NAME

    def __init__(
        self,
        store: DurableStore,
        hub: str,
        *,
        orchestrator_exists: Callable[[str], bool],
        wake: Callable[[], None],
        system_key: Callable[[], str | None],
        io: StoreCall = asyncio.to_thread,
        clock: Callable[[], float] = time.time,
        entity_exists: Callable[[str], bool] | None = None,
        rpc_secret: str | None = None,
        payload_limit: int = payloads.DEFAULT_LIMIT,
        bulk_io: StoreCall | None = None,
    ) -> None:
        self.store = store
        self.rpc_secret = rpc_secret or new_rpc_secret()
        self.payload_limit = payload_limit
        self.bulk_io = bulk_io or io  # store calls with a large payload (see overcast.durable.core.payloads.LARGE)
        self.hub = hub
        self._orchestrator_exists = orchestrator_exists
        self.wake = wake
        self._system_key = system_key
        self.io = io
        self.clock = clock
        self._entities = EntityRoutes(self, entity_exists)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    async def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                     body: bytes, base_url: str, url: str | None = None) -> Reply:
        """Serve one request. ``path``: after the API prefix (``instances/abc``); ``base_url``: the request's
        ``scheme://host[:port]``; ``url``: the whole request URL (for Location), rebuilt when not given."""
        request = ApiRequest.build(method, path, query, headers, body, base_url,
                                   url or f"{base_url}{WEBHOOK_PATH}/{path.lstrip('/')}")
        try:
            return await self._route(request)
        except DurableApiError as answer:
            return answer.reply
        except Exception as problem:
            log.exception("Durable API %s %s failed", method, path)
            return server_error(str(problem), type(problem).__name__).reply

    async def _route(self, request: ApiRequest) -> Reply:
        method, parts = request.method, request.segments
        for part in parts:
            # Instance ids, event names and entity keys: invalid UTF-8 in the URL would otherwise merge two names.
            if (problem := text_problem(part, "The URL path segment")) is not None:
                raise bad_request(problem)
        controller = parts[0].lower() if parts else ""
        if controller == "orchestrators" and len(parts) in (2, 3) and all(parts) and method == "POST":
            return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
        if controller == "entities" and len(parts) <= 3:
            return await self._entities.route(request)
        if controller != "instances" or len(parts) > 4 or not all(parts[1:]):
            return empty(404)
        if len(parts) == 1:
            handler = {"GET": self._list, "DELETE": self._purge_by_filter}.get(method)
            return await handler(request) if handler else empty(404)
        instance_id = parts[1]
        if len(parts) == 2:
            one = {"GET": self._status, "DELETE": self._purge}.get(method)
            return await one(request, instance_id) if one else empty(404)
        operation = parts[2].lower()
        if method != "POST" or (len(parts) == 4) != (operation == "raiseevent"):
            return empty(404)
        if operation == "raiseevent":
            return await self._raise_event(request, instance_id, parts[3])
        if operation == "restart":
            return await self._restart(request, instance_id)
        if operation in ("terminate", "suspend", "resume", "rewind"):
            return await self._control(request, instance_id, operation)
        return empty(404)

    # -- helpers ---------------------------------------------------------------------------------------------------

    def hub_of(self, request: ApiRequest) -> tuple[str, bool]:
        """The task hub the request addresses, and whether it is this app's own."""
        asked = (request.text("taskHub") or "").strip()
        if not asked or asked.lower() == self.hub.lower():
            return self.hub, True
        if (problem := task_hub_problem(asked)) is not None:
            raise bad_request(f"'taskHub': {problem}")
        return asked, False

    async def page(self, query: Callable[..., T], *args: Any) -> T:
        """A listing call: a continuation token the store does not know is the caller's mistake (400)."""
        try:
            return await self.io(query, *args)
        except StoreError as problem:
            raise bad_request(str(problem)) from None

    def payload_text(self, request: ApiRequest, what: str) -> str:
        """The request body as text, refused with a 400 over the durable payload limit (before anything reads it)."""
        if len(request.body) > self.payload_limit:
            raise bad_request(payloads.over_limit(what, len(request.body), self.payload_limit))
        return request.body_text(what)

    async def send(self, hub: str, message: NewMessage) -> None:
        io = self.bulk_io if payloads.is_large(len(str(message.event.get("Input") or ""))) else self.io
        await io(self.store.send_message, hub, message)
        self.wake()

    async def _instance(self, hub: str, instance_id: str) -> InstanceRecord:
        record = await self.io(self.store.get_instance, hub, instance_id)
        if record is None:
            raise DurableApiError(empty(404))
        return record

    async def _links(self, request: ApiRequest, hub: str) -> WebhookLinks:
        key = await self.io(self._system_key)
        return WebhookLinks(request.origin, hub, request.text("connection"), key)

    async def _check_status(self, request: ApiRequest, hub: str, instance_id: str) -> Reply:
        links = await self._links(request, hub)
        payload = links.check_status_payload(instance_id)
        return json_reply(202, payload, check_status_headers(payload))

    # -- orchestrations --------------------------------------------------------------------------------------------

    async def _start(self, request: ApiRequest, name: str, given_id: str | None) -> Reply:
        hub, own = self.hub_of(request)
        if given_id is not None and (problem := instance_id_problem(given_id)) is not None:
            raise bad_request(problem)
        if own and not self._orchestrator_exists(name):
            raise bad_request(f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.")
        text = self.payload_text(request, "orchestration input")
        input_text: str | None = None
        if text.strip():
            parse_json_text(text, "request body")
            input_text = text  # kept as sent: the SDK's double-encoded text stays a JSON string (spec §0.1)
        instance_id = given_id or uuid.uuid4().hex
        await self._create(hub, instance_id, name, input_text, request.text("version"))
        return await self._started(request, hub, instance_id)

    async def _create(self, hub: str, instance_id: str, name: str, input_text: str | None,
                      version: str | None) -> None:
        execution_id = uuid.uuid4().hex
        started = h.execution_started(name=name, instance_id=instance_id, execution_id=execution_id,
                                      input_json=input_text, now=self.now(), version=version or "")
        start = NewOrchestration(instance_id, name, execution_id, input_text, started, version=version)
        io = self.bulk_io if payloads.is_large(len(input_text or "")) else self.io
        created, holder = await io(self.store.create_instance, hub, start)
        if not created:
            raise server_error(f"An Orchestration instance with the status {holder.runtime_status} already exists.")
        self.wake()

    async def _started(self, request: ApiRequest, hub: str, instance_id: str) -> Reply:
        """The 202 check-status answer, or with ``timeout`` and ``pollingInterval`` the outcome if it comes first."""
        timeout, interval = request.seconds("timeout"), request.seconds("pollingInterval")
        if timeout is None or interval is None:
            return await self._check_status(request, hub, instance_id)
        if interval > timeout:
            raise bad_request(f"Total timeout {timeout:g} should be bigger than retry timeout {interval:g}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            record = await self.io(self.store.get_instance, hub, instance_id)
            remaining = deadline - loop.time()
            if (record is not None and record.runtime_status in FINISHED) or remaining <= 0:
                break
            await asyncio.sleep(max(MIN_POLL_SECONDS, min(interval, remaining)))
        if record is None or record.runtime_status not in FINISHED:
            return await self._check_status(request, hub, instance_id)
        if record.runtime_status == COMPLETED:
            return text_json_reply(200, json.dumps(parse_stored(record.output)))
        return await self._status(request, instance_id)

    async def _status(self, request: ApiRequest, instance_id: str) -> Reply:
        hub, _ = self.hub_of(request)
        record = await self._instance(hub, instance_id)
        show_history = request.flag("showHistory", False)
        history = None
        if show_history and record.runtime_status != PENDING:
            history = await self.io(self.store.get_history, hub, instance_id)
        payload = status_payload(record, history, show_input=request.flag("showInput", True),
                                 show_history_output=request.flag("showHistoryOutput", False))
        status = record.runtime_status
        if status == FAILED:
            return json_reply(500 if request.flag("returnInternalServerErrorOnFailure", False) else 200, payload)
        if status in FINISHED:
            return json_reply(200, payload)
        return json_reply(202, payload, [("Location", request.url), ("Retry-After", STILL_RUNNING_RETRY_AFTER)])

    def _query(self, request: ApiRequest, created_to_default: float | None = None) -> InstanceQuery:
        created_to = request.time("createdTimeTo")
        return InstanceQuery(
            runtime_statuses=parse_statuses(request.text("runtimeStatus")),
            created_from=request.time("createdTimeFrom"),
            created_to=created_to if created_to is not None else created_to_default,
            instance_id_prefix=request.text("instanceIdPrefix") or "",
        )

    async def _list(self, request: ApiRequest) -> Reply:
        hub, _ = self.hub_of(request)
        page = await self.page(self.store.query_instances, hub, self._query(request), request.top(),
                               request.continuation)
        show_input = request.flag("showInput", True)
        body = [status_payload(record, show_input=show_input) for record in page.items]
        headers = [(CONTINUATION_HEADER, page.continuation)] if page.continuation else []
        return json_reply(200, body, headers)

    async def _purge(self, request: ApiRequest, instance_id: str) -> Reply:
        hub, _ = self.hub_of(request)
        await self._instance(hub, instance_id)
        if not await self.io(self.store.purge_instance, hub, instance_id):
            return empty(404)
        return json_reply(200, {"instancesDeleted": 1})

    async def _purge_by_filter(self, request: ApiRequest) -> Reply:
        hub, _ = self.hub_of(request)
        if request.text("createdTimeFrom") is None:
            return json_reply(400, "Please provide value for 'createdTimeFrom' parameter.")
        deleted = await self.io(self.store.purge_instances, hub, self._query(request, self.clock()))
        return json_reply(200, {"instancesDeleted": deleted}) if deleted else empty(404)

    async def _raise_event(self, request: ApiRequest, instance_id: str, event_name: str) -> Reply:
        hub, _ = self.hub_of(request)
        record = await self._instance(hub, instance_id)
        if record.runtime_status in FINISHED:
            return empty(410)
        if request.media_type != "application/json":
            raise bad_request("Only application/json request content is supported",
                              "Only application/json request content is supported")
        text = self.payload_text(request, "event data")
        parse_json_text(text, "event data")
        # Decision 1: the orchestrator receives exactly what was sent (the Python client's double encoding too).
        await self.send(hub, NewMessage(instance_id, h.event_raised(event_name, text, self.now())))
        return empty(202)

    async def _control(self, request: ApiRequest, instance_id: str, operation: str) -> Reply:
        """terminate / suspend / resume / rewind: check the status as the extension does, then send the request."""
        hub, _ = self.hub_of(request)
        record = await self._instance(hub, instance_id)
        status, reason = record.runtime_status, request.text("reason")
        if operation == "rewind":
            if status in (COMPLETED, TERMINATED, CANCELED):
                return empty(410)
            if status != FAILED:
                raise server_error("The rewind operation is only supported on failed orchestration instances.")
            event = execution_rewound(reason, self.now())
        else:
            if status in FINISHED:
                return empty(410)
            if (operation == "suspend" and status == SUSPENDED) or (operation == "resume" and status != SUSPENDED):
                raise server_error(f"Cannot {operation} the orchestration instance {instance_id} because instance "
                                   f"is in the {status} state.")
            build = {"terminate": h.execution_terminated, "suspend": h.execution_suspended,
                     "resume": h.execution_resumed}[operation]
            event = build(reason, self.now())
        await self.send(hub, NewMessage(instance_id, event))
        return empty(202)

    async def _restart(self, request: ApiRequest, instance_id: str) -> Reply:
        """Start the instance's orchestration again with its input: as a new instance, or replacing this one."""
        hub, own = self.hub_of(request)
        record = await self.io(self.store.get_instance, hub, instance_id)
        if record is None:
            raise bad_request(f"An orchestration with the instanceId {instance_id} was not found.")
        if own and not self._orchestrator_exists(record.name):
            raise bad_request(f"The function '{record.name}' doesn't exist, is disabled, or is not an orchestrator "
                              "function.")
        history = await self.io(self.store.get_history, hub, instance_id)
        started = next((e for e in history if h.event_type(e) == h.EventType.EXECUTION_STARTED), None)
        # What the current execution started with (after continue-as-new too), as the extension's status.Input.
        input_text = started.get("Input") if started is not None else record.input
        new_id = uuid.uuid4().hex if request.flag("restartWithNewInstanceId", True) else instance_id
        if input_text is not None and not isinstance(input_text, str):
            input_text = json.dumps(input_text)
        await self._create(hub, new_id, record.name, input_text, record.version)
        return await self._started(request, hub, new_id)

