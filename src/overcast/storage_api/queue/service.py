"""The Queue service: routing its REST operations (URI, verb, ``comp``) to the queue service store.

The messages are the embedded store's own: a message put here is the message a queue trigger receives (and this
instance's triggers of that queue are woken at once), and a message an output binding wrote is listed, peeked and
received here. The text of a message is stored as sent: the Functions host's base64 encoding is the client's
business (``QueueClient(..., message_encode_policy=TextBase64EncodePolicy())``), as with Azure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from overcast.backends.names import MAX_MESSAGE_BYTES, validate_queue_name
from overcast.backends.queue_service_store import (
    MAX_LIST,
    CreateOutcome,
    MessageProblem,
    QueueServiceStore,
    UpdatedMessage,
)
from overcast.errors import PayloadTooLargeError, StorageApiError, StoreError
from overcast.storage_api.auth import authorize
from overcast.storage_api.errors import error, invalid_query
from overcast.storage_api.queue.xml import (
    http_date,
    message_text,
    messages_xml,
    queue_list_xml,
    service_properties_xml,
)
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.services import Handler, ServiceEnv

XML = {"Content-Type": "application/xml"}
SEVEN_DAYS = 7 * 24 * 3600
_MESSAGE_PATH = re.compile(r"messages(?:/(?P<id>[^/]+))?")


def make_queue_service(env: ServiceEnv) -> Handler:
    return QueueService(env)


def queue_not_found() -> StorageApiError:
    return error(404, "QueueNotFound", "The specified queue does not exist.")


def message_problem(problem: MessageProblem) -> StorageApiError:
    if problem is MessageProblem.QUEUE_NOT_FOUND:
        return queue_not_found()
    if problem is MessageProblem.MESSAGE_NOT_FOUND:
        return error(404, "MessageNotFound", "The specified message does not exist.")
    return error(400, "PopReceiptMismatch",
                 "The specified pop receipt did not match the pop receipt for a dequeued message.")


def not_implemented(request: StorageRequest) -> StorageApiError:
    what = f"{request.method} /{request.path}" + (f"?comp={request.comp}" if request.comp else "")
    return error(501, "NotImplemented", f"The requested operation is not implemented by Overcast's Queue endpoint: "
                 f"{what}. See docs/storage-api.md.")


def check_queue_name(name: str) -> str:
    try:
        return validate_queue_name(name)
    except StoreError:
        if not 3 <= len(name) <= 63:
            raise error(400, "OutOfRangeInput",
                        "The specified resource name length is not within the permissible limits.") from None
        raise error(400, "InvalidResourceName",
                    "The specifed resource name contains invalid characters.") from None  # sic: Azure's wording


def metadata_of(request: StorageRequest) -> dict[str, str]:
    """The ``x-ms-meta-*`` headers (names lower-cased, as HTTP headers reach us)."""
    found = {k[len("x-ms-meta-"):]: v for k, v in request.headers.items() if k.startswith("x-ms-meta-")}
    for key in found:
        if not key.isidentifier() or not key.isascii():
            raise error(400, "InvalidMetadata",
                        "The metadata specified is invalid. It has characters that are not permitted.")
    return found


def metadata_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in metadata.items()}


def int_query(request: StorageRequest, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_query(name, raw) from None
    if value < low or (high is not None and value > high):
        raise error(400, "OutOfRangeQueryParameterValue", "One of the query parameters specified in the request URI "
                    "is outside the permissible range.", QueryParameterName=name, QueryParameterValue=raw,
                    MinimumAllowed=str(low), MaximumAllowed=str(high if high is not None else 2**31 - 1))
    return value


class QueueService:
    def __init__(self, env: ServiceEnv) -> None:
        self.env = env

    @property
    def store(self) -> QueueServiceStore:
        return self.env.stores.queue_service

    async def __call__(self, request: StorageRequest) -> StorageResponse:
        queue, rest = request.resource
        try:
            if not queue:
                return await self._account(request)
            check_queue_name(queue)
            if not rest:
                return await self._queue(request, queue)
            match = _MESSAGE_PATH.fullmatch(rest)
            if match is None:
                raise error(400, "InvalidUri", "The requested URI does not represent any resource on the server.")
            if match["id"] is None:
                return await self._messages(request, queue)
            return await self._message(request, queue, match["id"])
        except PayloadTooLargeError:
            raise error(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum "
                        "permissible limit.", MaxLimit=str(MAX_MESSAGE_BYTES)) from None
        except StoreError as exc:
            raise error(400, "InvalidInput", f"One of the request inputs is not valid: {exc}") from exc

    # -- account ------------------------------------------------------------------------------------------------

    async def _account(self, request: StorageRequest) -> StorageResponse:
        if request.method == "GET" and request.comp == "list":
            authorize(request, "l", "s")
            return await self._list(request)
        if request.restype == "service" and request.comp == "properties":
            if request.method == "GET":
                authorize(request, "r", "s")
                return StorageResponse(200, dict(XML), service_properties_xml())
            if request.method == "PUT":
                authorize(request, "w", "s")
                return StorageResponse(202)  # accepted; the endpoint keeps no analytics or CORS settings
        raise not_implemented(request)

    async def _list(self, request: StorageRequest) -> StorageResponse:
        prefix, marker = request.query.get("prefix", ""), request.query.get("marker", "")
        given = "maxresults" in request.query
        limit = int_query(request, "maxresults", MAX_LIST, 1, MAX_LIST)
        page, next_marker = await self.env.io(self.store.list_queue_page, prefix, marker, limit)
        include = request.query.get("include", "")
        endpoint = f"http://{request.header('host', '127.0.0.1')}/{request.account}/"
        body = queue_list_xml(endpoint, prefix, marker, limit if given else None, page, next_marker,
                              "metadata" in include.split(","))
        return StorageResponse(200, dict(XML), body)

    # -- queues -------------------------------------------------------------------------------------------------

    async def _queue(self, request: StorageRequest, queue: str) -> StorageResponse:
        method, comp = request.method, request.comp
        if method == "PUT" and comp == "":
            authorize(request, "wc", "c")
            outcome = await self.env.io(self.store.create_queue, queue, metadata_of(request))
            if outcome is CreateOutcome.EXISTS_DIFFERENT:
                raise error(409, "QueueAlreadyExists", "The specified queue already exists.")
            return StorageResponse(201 if outcome is CreateOutcome.CREATED else 204)
        if method == "DELETE" and comp == "":
            authorize(request, "d", "c")
            if not await self.env.io(self.store.delete_queue, queue):
                raise queue_not_found()
            return StorageResponse(204)
        if method in ("GET", "HEAD") and comp == "metadata":
            authorize(request, "r", "c")
            props = await self.env.io(self.store.queue_properties, queue)
            if props is None:
                raise queue_not_found()
            headers = {"x-ms-approximate-messages-count": str(props.approximate_count),
                       **metadata_headers(props.metadata)}
            return StorageResponse(200, headers)
        if method == "PUT" and comp == "metadata":
            authorize(request, "w", "c")
            if not await self.env.io(self.store.set_queue_metadata, queue, metadata_of(request)):
                raise queue_not_found()
            return StorageResponse(204)
        if comp == "acl" and method in ("GET", "HEAD", "PUT"):
            return await self._acl(request, queue)
        raise not_implemented(request)

    async def _acl(self, request: StorageRequest, queue: str) -> StorageResponse:
        """Stored access policies: none are kept, so a get answers an empty list and a set of none succeeds."""
        authorize(request, "r" if request.method != "PUT" else "w", "c")
        if await self.env.io(self.store.queue_properties, queue) is None:
            raise queue_not_found()
        if request.method == "PUT":
            if b"<SignedIdentifier>" in request.body:
                raise not_implemented(request)
            return StorageResponse(204)
        return StorageResponse(200, dict(XML),
                               b'<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers />')

    # -- messages -----------------------------------------------------------------------------------------------

    async def _messages(self, request: StorageRequest, queue: str) -> StorageResponse:
        method = request.method
        if method == "POST":
            authorize(request, "a", "o")
            return await self._put(request, queue)
        if method == "GET":
            count = int_query(request, "numofmessages", 1, 1, 32)
            if request.query.get("peekonly", "").lower() == "true":
                authorize(request, "r", "o")
                found = await self.env.io(self.store.peek_messages, queue, count)
                if found is None:
                    raise queue_not_found()
                return StorageResponse(200, dict(XML), messages_xml(found, peek=True))
            authorize(request, "p", "o")
            visibility = int_query(request, "visibilitytimeout", 30, 1, SEVEN_DAYS)
            got = await self.env.io(self.store.get_messages, queue, count, float(visibility))
            if got is None:
                raise queue_not_found()
            return StorageResponse(200, dict(XML), messages_xml(got))
        if method == "DELETE":
            authorize(request, "d", "o")
            if not await self.env.io(self.store.clear_messages, queue):
                raise queue_not_found()
            return StorageResponse(204)
        raise not_implemented(request)

    async def _put(self, request: StorageRequest, queue: str) -> StorageResponse:
        ttl = int_query(request, "messagettl", SEVEN_DAYS, -1, None)
        if ttl == 0:
            raise error(400, "OutOfRangeQueryParameterValue", "One of the query parameters specified in the request "
                        "URI is outside the permissible range.", QueryParameterName="messagettl",
                        QueryParameterValue="0", MinimumAllowed="1", MaximumAllowed=str(2**31 - 1))
        visibility = int_query(request, "visibilitytimeout", 0, 0, SEVEN_DAYS)
        if ttl != -1 and visibility >= ttl:
            raise invalid_query("visibilitytimeout", str(visibility), "messagettl must be greater than "
                                "visibilitytimeout.")
        body = message_text(request.body)
        put = await self.env.io(self.store.put_message, queue, body, float(visibility), float(ttl))
        if put is None:
            raise queue_not_found()
        if visibility == 0 and self.env.wake_queue is not None:
            self.env.wake_queue(queue)
        return StorageResponse(201, dict(XML), messages_xml([put], with_text=False))

    async def _message(self, request: StorageRequest, queue: str, message_id: str) -> StorageResponse:
        receipt = request.query.get("popreceipt")
        if request.method not in ("PUT", "DELETE"):
            raise not_implemented(request)
        if not receipt:
            raise error(400, "MissingRequiredQueryParameter", "A query parameter that's mandatory for this request "
                        "is not specified.", QueryParameterName="popreceipt")
        if request.method == "DELETE":
            authorize(request, "p", "o")
            problem = await self.env.io(self.store.delete_message, queue, message_id, receipt)
            if problem is not None:
                raise message_problem(problem)
            return StorageResponse(204)
        authorize(request, "u", "o")
        if "visibilitytimeout" not in request.query:
            raise error(400, "MissingRequiredQueryParameter", "A query parameter that's mandatory for this request "
                        "is not specified.", QueryParameterName="visibilitytimeout")
        visibility = int_query(request, "visibilitytimeout", 0, 0, SEVEN_DAYS)
        body = message_text(request.body) if request.body.strip() else None
        updated = await self.env.io(self.store.update_message, queue, message_id, receipt, float(visibility), body)
        if not isinstance(updated, UpdatedMessage):
            raise message_problem(updated)
        if visibility == 0 and self.env.wake_queue is not None:
            self.env.wake_queue(queue)
        return StorageResponse(204, {"x-ms-popreceipt": updated.pop_receipt,
                                     "x-ms-time-next-visible": http_date(updated.next_visible)})
