"""The Table service: routing its OData operations (tables, entities, ``$batch``) to the table service store.

The entities are the embedded store's own: an entity a table output binding wrote is read, queried and updated
here, and one written here is what a table input binding reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from overcast.backends.names import validate_table_name
from overcast.backends.table_service_store import (
    EntityOp,
    OpFailure,
    StoredEntity,
    TableProblem,
    TableServiceStore,
    WriteKind,
)
from overcast.errors import StorageApiError, StoreError
from overcast.storage_api.auth import authorize
from overcast.storage_api.errors import error
from overcast.storage_api.queue.xml import service_properties_xml
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.services import Handler, ServiceEnv
from overcast.storage_api.table.batch import SubRequest, SubResponse, parse_batch, render_batch
from overcast.storage_api.table.wire import (
    JSON_TYPES,
    Level,
    decode_token,
    dumps,
    encode_token,
    entity_filter,
    entity_json,
    entity_keys,
    invalid_input,
    level_of,
    names_filter,
    quoted_keys,
    read_entity,
    select_of,
    split_resource,
    top_of,
)

_PROBLEMS = {
    TableProblem.TABLE_NOT_FOUND: (404, "The table specified does not exist."),
    TableProblem.ENTITY_NOT_FOUND: (404, "The specified resource does not exist."),
    TableProblem.ENTITY_EXISTS: (409, "The specified entity already exists."),
    TableProblem.CONDITION_NOT_MET: (412, "The update condition specified in the request was not satisfied."),
}
_ODATA = {"DataServiceVersion": "3.0;", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def make_table_service(env: ServiceEnv) -> Handler:
    return TableService(env)


def problem_error(problem: TableProblem, prefix: str = "") -> StorageApiError:
    status, message = _PROBLEMS[problem]
    return error(status, problem.value, prefix + message)


def not_implemented(request: StorageRequest) -> StorageApiError:
    return error(501, "NotImplemented", f"The requested operation is not implemented by Overcast's Table endpoint: "
                 f"{request.method} /{request.path}. See docs/storage-api.md.")


def check_table_name(name: str) -> str:
    try:
        return validate_table_name(name)
    except StoreError:
        raise error(400, "InvalidResourceName",
                    "The specifed resource name contains invalid characters.") from None  # sic: Azure's wording


def _prefer_content(headers: dict[str, str]) -> bool:
    """Whether the client wants the created entity or table back (``Prefer``; the service's default is yes)."""
    return "return-no-content" not in headers.get("prefer", "")


def _method(sub: SubRequest | StorageRequest) -> str:
    """The operation's verb: MERGE also as PATCH (the SDK's) or tunnelled through POST (``X-HTTP-Method``)."""
    method = sub.method
    tunnel = (sub.headers.get("x-http-method") or "").upper()
    if method == "POST" and tunnel in ("MERGE", "PUT", "DELETE"):
        return tunnel
    return "MERGE" if method == "PATCH" else method


def entity_op(method: str, table: str, keys: str | None, headers: dict[str, str], body: bytes) -> EntityOp:
    """The store operation of one entity request (direct or in a batch)."""
    if_match = headers.get("if-match")
    if keys is None or keys == "":
        if method != "POST":
            raise error(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
        pk, rk, props = read_entity(body)
        if pk is None or rk is None:
            raise error(400, "PropertiesNeedValue", "The values are not specified for all properties in the entity.")
        return EntityOp(WriteKind.INSERT, pk, rk, props)
    pk, rk = entity_keys(keys)
    if method == "DELETE":
        if not if_match:
            raise error(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                        "specified.", HeaderName="If-Match")
        return EntityOp(WriteKind.DELETE, pk, rk, {}, if_match)
    if method in ("PUT", "MERGE"):
        _, _, props = read_entity(body)
        if method == "PUT":
            kind = WriteKind.REPLACE if if_match else WriteKind.UPSERT_REPLACE
        else:
            kind = WriteKind.MERGE if if_match else WriteKind.UPSERT_MERGE
        return EntityOp(kind, pk, rk, props, if_match)
    raise error(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")


class TableService:
    def __init__(self, env: ServiceEnv) -> None:
        self.env = env

    @property
    def store(self) -> TableServiceStore:
        return self.env.stores.table_service

    async def __call__(self, request: StorageRequest) -> StorageResponse:
        try:
            if request.path == "$batch" and request.method == "POST":
                return await self._batch(request)
            if request.path == "":
                return self._account(request)
            name, keys = split_resource(request.path)
            if name == "Tables":
                return await self._tables(request, keys)
            check_table_name(name)
            if keys and request.method == "GET":
                return await self._get(request, name, keys)
            if (keys is None or keys == "") and request.method == "GET":
                return await self._query(request, name)
            return await self._write(request, name, keys)
        except StoreError as exc:
            raise invalid_input(str(exc)) from exc

    def _account(self, request: StorageRequest) -> StorageResponse:
        if request.restype == "service" and request.comp == "properties":
            if request.method == "GET":
                authorize(request, "r", "s")
                return StorageResponse(200, {"Content-Type": "application/xml"}, service_properties_xml())
            if request.method == "PUT":
                authorize(request, "w", "s")
                return StorageResponse(202)  # accepted; the endpoint keeps no analytics or CORS settings
        raise not_implemented(request)

    def _base(self, request: StorageRequest) -> str:
        return f"http://{request.header('host', '127.0.0.1')}/{request.account}/"

    def _json(self, status: int, level: Level, value: dict[str, Any], **headers: str) -> StorageResponse:
        return StorageResponse(status, {**_ODATA, "Content-Type": JSON_TYPES[level], **headers}, dumps(value))

    # -- tables -------------------------------------------------------------------------------------------------

    async def _tables(self, request: StorageRequest, keys: str | None) -> StorageResponse:
        level = level_of(request.header("accept"), request.query.get("$format"))
        if request.method == "POST" and not keys:
            authorize(request, "ac", "c")
            try:
                name = json.loads(request.body or b"{}").get("TableName")
            except (ValueError, AttributeError):
                raise invalid_input("The body must be {\"TableName\": \"<name>\"}.") from None
            if not isinstance(name, str):
                raise invalid_input("The body must be {\"TableName\": \"<name>\"}.")
            check_table_name(name)
            if not await self.env.io(self.store.create_table, name):
                raise error(409, "TableAlreadyExists", "The table specified already exists.")
            location = f"{self._base(request)}Tables('{name}')"
            if not _prefer_content(request.headers):
                return StorageResponse(204, {**_ODATA, "Location": location, "DataServiceId": location,
                                             "Preference-Applied": "return-no-content"})
            value = self._table_json(request, level, name, element=True)
            return self._json(201, level, value, Location=location, **{"Preference-Applied": "return-content"})
        if request.method == "DELETE" and keys:
            authorize(request, "d", "c")
            name = keys.strip().strip("'")
            check_table_name(name)
            if not await self.env.io(self.store.delete_table, name):
                raise problem_error(TableProblem.ENTITY_NOT_FOUND)
            return StorageResponse(204, dict(_ODATA))
        if request.method == "GET" and keys:
            authorize(request, "l", "c")
            name = keys.strip().strip("'")
            check_table_name(name)
            found = [n for n in await self.env.io(self.store.list_tables) if n.lower() == name.lower()]
            if not found:
                raise problem_error(TableProblem.ENTITY_NOT_FOUND)
            return self._json(200, level, self._table_json(request, level, found[0], element=True))
        if request.method == "GET":
            authorize(request, "l", "c")
            return await self._list_tables(request, level)
        raise not_implemented(request)

    def _table_json(self, request: StorageRequest, level: Level, name: str, element: bool = False) -> dict[str, Any]:
        base = self._base(request)
        out: dict[str, Any] = {}
        if element and level != "nometadata":
            out["odata.metadata"] = f"{base}$metadata#Tables/@Element"
        if level == "fullmetadata":
            out.update({"odata.type": f"{request.account}.Tables", "odata.id": f"{base}Tables('{name}')",
                        "odata.editLink": f"Tables('{name}')"})
        out["TableName"] = name
        return out

    async def _list_tables(self, request: StorageRequest, level: Level) -> StorageResponse:
        top = top_of(request.query.get("$top"))
        keep = names_filter(request.query.get("$filter"))
        token = request.query.get("NextTableName")
        start = decode_token(token, "NextTableName") if token else ""
        # Names ignore case, so pages run in case-insensitive order and continue from a lower-cased name.
        names = sorted((n for n in await self.env.io(self.store.list_tables)
                        if n.lower() >= start.lower() and (keep is None or keep(n))), key=str.lower)
        value: dict[str, Any] = {}
        if level != "nometadata":
            value["odata.metadata"] = f"{self._base(request)}$metadata#Tables"
        value["value"] = [self._table_json(request, level, n) for n in names[:top]]
        headers = {"x-ms-continuation-NextTableName": encode_token(names[top])} if len(names) > top else {}
        return self._json(200, level, value, **headers)

    # -- entities -----------------------------------------------------------------------------------------------

    async def _get(self, request: StorageRequest, table: str, keys: str) -> StorageResponse:
        authorize(request, "r", "o")
        level = level_of(request.header("accept"), request.query.get("$format"))
        pk, rk = entity_keys(keys)
        found = await self.env.io(self.store.get_entity, table, pk, rk)
        if isinstance(found, TableProblem):
            raise problem_error(found)
        value = entity_json(found, level, table, self._base(request), select_of(request.query.get("$select")))
        if level != "nometadata":
            value = {"odata.metadata": f"{self._base(request)}$metadata#{table}/@Element", **value}
        return self._json(200, level, value, ETag=found.etag)

    async def _query(self, request: StorageRequest, table: str) -> StorageResponse:
        authorize(request, "r", "o")
        level = level_of(request.header("accept"), request.query.get("$format"))
        top = top_of(request.query.get("$top"))
        accept = entity_filter(request.query.get("$filter"))
        start: tuple[str, str] | None = None
        next_pk, next_rk = request.query.get("NextPartitionKey"), request.query.get("NextRowKey")
        if next_pk:
            start = (decode_token(next_pk, "NextPartitionKey"),
                     decode_token(next_rk, "NextRowKey") if next_rk else "")
        page = await self.env.io(self.store.query_entities, table, accept, start, top)
        if page is None:
            raise problem_error(TableProblem.TABLE_NOT_FOUND)
        entities, after = page
        base, select = self._base(request), select_of(request.query.get("$select"))
        value: dict[str, Any] = {}
        if level != "nometadata":
            value["odata.metadata"] = f"{base}$metadata#{table}"
        value["value"] = [entity_json(e, level, table, base, select) for e in entities]
        headers = {} if after is None else {"x-ms-continuation-NextPartitionKey": encode_token(after[0]),
                                            "x-ms-continuation-NextRowKey": encode_token(after[1])}
        return self._json(200, level, value, **headers)

    async def _write(self, request: StorageRequest, table: str, keys: str | None) -> StorageResponse:
        op = entity_op(_method(request), table, keys, request.headers, request.body)
        _authorize_write(request, op)
        result = await self.env.io(self.store.write_entities, table, [op])
        if isinstance(result, OpFailure):
            raise problem_error(result.problem)
        level = level_of(request.header("accept"), request.query.get("$format"))
        reply = self._reply(request, table, op, result[0], request.headers, level)
        return StorageResponse(reply.status, dict(reply.headers), reply.body)

    def _reply(self, request: StorageRequest, table: str, op: EntityOp, entity: StoredEntity | None,
               headers: dict[str, str], level: Level) -> SubResponse:
        if entity is None:
            return SubResponse(204, dict(_ODATA))
        base = self._base(request)
        location = f"{base}{table}({quoted_keys(entity.partition_key, entity.row_key)})"
        out = {**_ODATA, "ETag": entity.etag}
        if op.kind is not WriteKind.INSERT:
            return SubResponse(204, out)
        out.update({"Location": location, "DataServiceId": location})
        if not _prefer_content(headers):
            return SubResponse(204, {**out, "Preference-Applied": "return-no-content"})
        value = entity_json(entity, level, table, base)
        if level != "nometadata":
            value = {"odata.metadata": f"{base}$metadata#{table}/@Element", **value}
        return SubResponse(201, {**out, "Preference-Applied": "return-content", "Content-Type": JSON_TYPES[level]},
                           dumps(value))

    # -- batches ------------------------------------------------------------------------------------------------

    async def _batch(self, request: StorageRequest) -> StorageResponse:
        subs = parse_batch(request.body, request.header("content-type"), request.account)
        ops: list[EntityOp] = []
        tables: set[str] = set()
        for index, sub in enumerate(subs):
            name, keys = split_resource(sub.path)
            if name == "Tables" or sub.method == "GET":
                raise invalid_input(f"{index}:A batch may only write entities.")
            tables.add(check_table_name(name).lower())
            try:
                op = entity_op(_method(sub), name, keys, sub.headers, sub.body)
            except StorageApiError as exc:
                return self._batch_failure(index, exc)
            _authorize_write(request, op)
            ops.append(op)
        table = split_resource(subs[0].path)[0]
        if len(tables) > 1 or len({op.partition_key for op in ops}) > 1:
            return self._batch_failure(0, error(400, "CommandsInBatchActOnDifferentPartitions",
                                                "All commands in a batch must operate on same entity group."))
        if len({(op.partition_key, op.row_key) for op in ops}) < len(ops):
            return self._batch_failure(0, error(400, "InvalidDuplicateRow",
                                                "The batch request contains multiple changes with same row key. An "
                                                "entity can appear only once in a batch request."))
        result = await self.env.io(self.store.write_entities, table, ops)
        if isinstance(result, OpFailure):
            if result.problem is TableProblem.TABLE_NOT_FOUND:
                raise problem_error(result.problem, f"{result.index}:")
            return self._batch_failure(result.index, problem_error(result.problem, f"{result.index}:"))
        level = level_of(request.header("accept"), None)
        replies = [self._reply(request, table, op, entity, sub.headers, level)
                   for op, entity, sub in zip(ops, result, subs, strict=True)]
        return self._batch_reply(replies)

    def _batch_failure(self, index: int, exc: StorageApiError) -> StorageResponse:
        message = exc.message if exc.message.startswith(f"{index}:") else f"{index}:{exc.message}"
        body = dumps({"odata.error": {"code": exc.code, "message": {"lang": "en-US", "value": message}}})
        return self._batch_reply([SubResponse(exc.status, {**_ODATA, "Content-Type": JSON_TYPES["minimalmetadata"],
                                                           "Content-ID": str(index)}, body)])

    def _batch_reply(self, replies: Sequence[SubResponse]) -> StorageResponse:
        content_type, body = render_batch(list(replies))
        return StorageResponse(202, {**_ODATA, "Content-Type": content_type}, body)


def _authorize_write(request: StorageRequest, op: EntityOp) -> None:
    """The SAS permissions a write needs: an upsert may insert or update, so it needs both (as Azure checks)."""
    letters = {WriteKind.INSERT: "a", WriteKind.REPLACE: "u", WriteKind.MERGE: "u", WriteKind.DELETE: "d",
               WriteKind.UPSERT_REPLACE: "au", WriteKind.UPSERT_MERGE: "au"}[op.kind]
    for letter in letters:
        authorize(request, letter, "o")
