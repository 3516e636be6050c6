"""``/runtime/webhooks/eventgrid`` and ``/runtime/webhooks/blobs``: where Event Grid delivers to functions (§6.7).

- ``POST /runtime/webhooks/eventgrid?functionName=<fn>``: the ``aeg-event-type`` header says what it is.
  ``SubscriptionValidation`` answers ``{"validationResponse": <code>}``; ``Notification`` invokes the function once
  per event (an array or one object; Event Grid schema or CloudEvents 1.0), all at once, and answers 202 when every
  invocation succeeded, else 500 with the first failure's message (Event Grid then retries the whole batch);
  ``Unsubscribe`` answers 202; anything else 400. An unknown function is 404 ``cannot find function: '<fn>'``.
- ``OPTIONS`` with ``WebHook-Request-Origin``: the CloudEvents 1.0 abuse-protection handshake, answered with
  ``WebHook-Allowed-Origin``.
- ``POST /runtime/webhooks/eventgrid/topics/<topic>[/api/events]``: publish to a local topic, as to an Event Grid
  topic endpoint (``aeg-sas-key``: the ``eventgrid_extension`` system key when keys are enforced); 200.
- ``/runtime/webhooks/blobs?functionName=Host.Functions.<fn>``: as Azure's blob trigger with ``source="EventGrid"``,
  the storage account's BlobCreated events run the blob trigger.

Each needs its extension's system key (``eventgrid_extension``, ``blobs_extension``) or the master key, unless
keys are not enforced (``--no-auth``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from overcast.errors import BodyTooLarge, InputError, OvercastError
from overcast.eventgrid import events as ev
from overcast.eventgrid.kind import WAKE_NAME, topic_path
from overcast.eventgrid.publish import LOCAL_TOPIC_PATH
from overcast.web.app import Caller
from overcast.web.asgi_io import Receive, Send, read_body, send_response
from overcast.web.http_in import joined_query
from overcast.web.keys import AuthLevel

if TYPE_CHECKING:
    from overcast.eventgrid.delivery import EventGridService

log = logging.getLogger("overcast.host.triggers.eventgrid")
TEXT = [("content-type", "text/plain; charset=utf-8")]
JSON = [("content-type", "application/json; charset=utf-8")]


class ExtensionWebhook:
    """One ``/runtime/webhooks/<name>`` endpoint; the admin API gives it its system key's value at start."""

    def __init__(self, service: EventGridService, system_key: str, body_limit: int, blobs: bool) -> None:
        self.service = service
        self.system_key = system_key
        self.key_value: str | None = None  # set by the admin API (it makes the key if missing)
        self._limit = body_limit
        self._blobs = blobs

    def _allowed(self, caller: Caller, headers: dict[str, str], publishing: bool) -> bool:
        if caller.is_admin:
            return True
        if caller.level is AuthLevel.SYSTEM and (caller.name or "").lower() == self.system_key:
            return True
        sas = headers.get("aeg-sas-key")
        return bool(publishing and sas and self.key_value and hmac.compare_digest(sas, self.key_value))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send, headers: dict[str, str],
                       caller: Caller) -> None:
        path: str = scope["path"].rstrip("/")
        method: str = scope["method"]
        topic = None if self._blobs else LOCAL_TOPIC_PATH.match(path)
        if not self._allowed(caller, headers, publishing=topic is not None):
            await send_response(send, 401, [])
            return
        if method == "OPTIONS":
            origin = headers.get("webhook-request-origin")
            if not origin:
                await send_response(send, 400, TEXT, b"The CloudEvents handshake needs WebHook-Request-Origin.")
            else:
                await send_response(send, 200, [("webhook-allowed-origin", origin), ("webhook-allowed-rate", "*")])
            return
        if method != "POST":
            await send_response(send, 405, [("allow", "POST, OPTIONS")])
            return
        try:
            body = await read_body(receive, self._limit)
        except BodyTooLarge:
            await send_response(send, 413, [])
            return
        if topic is not None:
            status, reply_headers, reply = await self._publish(topic["topic"].lower(), body)
        elif path.lower().count("/") != 3:  # /runtime/webhooks/<name> and nothing after it
            status, reply_headers, reply = 404, [], b""
        else:
            query = joined_query(scope.get("query_string", b""))
            status, reply_headers, reply = await self._trigger(query.get("functionName") or "", headers, body)
        await send_response(send, status, reply_headers, reply)

    async def _publish(self, topic: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            events = ev.parse_events(body or b"[]")
            for index, event in enumerate(events):
                ev.check_publishable(event, index)
        except InputError as exc:
            return 400, JSON, json.dumps({"error": {"code": "BadRequest", "message": str(exc)}}).encode()
        now = self.service.clock()
        texts = [json.dumps(ev.complete_event(event, topic_path(topic), now)) for event in events]
        try:
            await self.service.io(self.service.store.publish, topic, texts)
        except OvercastError as exc:
            return 400, JSON, json.dumps({"error": {"code": "BadRequest", "message": str(exc)}}).encode()
        self.service.wake()
        return 200, [], b""

    async def _trigger(self, function: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        name = function.split(".")[-1] if self._blobs else function  # Host.Functions.<fn>
        spec = self.service.blob_function(name) if self._blobs else self.service.event_function(name)
        if spec is None:
            log.info("cannot find function: '%s'", function)
            return 404, TEXT, f"cannot find function: '{function}'".encode()
        kind = (headers.get("aeg-event-type") or "").lower()
        try:
            parsed: Any = json.loads(body) if kind in ("subscriptionvalidation", "notification") else None
        except ValueError as exc:
            return 400, TEXT, f"The request body is not JSON: {exc}".encode()
        if kind == "subscriptionvalidation":
            code = ev.validation_code(parsed)
            if code is None:
                return 400, TEXT, b"The validation request has no data.validationCode."
            log.info("perform handshake with eventGrid for function: %s", spec.name)
            return 200, JSON, json.dumps({"validationResponse": code}).encode()
        if kind == "unsubscribe":
            return 202, [], b""
        if kind != "notification":
            return 400, [], b""
        events = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(e, dict) for e in events):
            return 400, TEXT, b"The request content must be a JSON object or an array of objects."
        if self._blobs:
            results = await asyncio.gather(*(self.service.invoke_blob_event(spec, e) for e in events))
        else:
            results = await asyncio.gather(*(self.service.invoke_event(spec, e) for e in events))
        for result in results:
            if result is not None and not result.succeeded:
                message = str(result.error) if result.error is not None else "The function failed."
                return 500, TEXT, message.encode()
        return 202, [], b""


def webhooks(service: EventGridService, body_limit: int) -> dict[str, ExtensionWebhook]:
    return {
        "eventgrid": ExtensionWebhook(service, "eventgrid_extension", body_limit, blobs=False),
        "blobs": ExtensionWebhook(service, "blobs_extension", body_limit, blobs=True),
    }


__all__ = ["WAKE_NAME", "ExtensionWebhook", "webhooks"]
