"""The Table service's handler in process, on the memory backend: what the SDK never asks for (the metadata levels
other than minimal, one table by name, unserved operations). Everything else runs through the SDKs in
tests/storage_api."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from overcast.backends.pool import ConnectionStores
from overcast.backends.registry import BackendTarget, open_backend
from overcast.errors import StorageApiError
from overcast.storage_api.auth import Auth
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.services import SERVICES, ServiceEnv
from overcast.storage_api.table.service import make_table_service


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def call(tmp_path: Path) -> Callable[..., StorageResponse]:
    stores = ConnectionStores(open_backend("memory", BackendTarget(tmp_path)))
    handler = make_table_service(ServiceEnv(stores, inline, time.time))

    def send(method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
             **headers: str) -> StorageResponse:
        raw = json.dumps(body).encode() if body is not None else b""
        q = query or {}
        request = StorageRequest(SERVICES["table"], method, "devstoreaccount1", path, f"/devstoreaccount1/{path}",
                                 q, list(q.items()), {k.replace("_", "-").lower(): v for k, v in headers.items()},
                                 raw, "rid", Auth("SharedKey"))
        return asyncio.run(handler(request))

    return send


def test_metadata_levels_of_a_read(call: Callable[..., StorageResponse]) -> None:
    assert call("POST", "Tables", {"TableName": "People"}).status == 201
    entity = {"PartitionKey": "p", "RowKey": "r", "N": "5", "N@odata.type": "Edm.Int64"}
    assert call("POST", "People", entity, prefer="return-no-content").status == 204
    path = "People(PartitionKey='p',RowKey='r')"
    none = call("GET", path, accept="application/json;odata=nometadata")
    assert none.headers["Content-Type"].startswith("application/json;odata=nometadata")
    assert set(json.loads(none.body)) == {"PartitionKey", "RowKey", "Timestamp", "N"}
    full = json.loads(call("GET", path, accept="application/json;odata=fullmetadata").body)
    assert full["odata.editLink"] == path and full["N@odata.type"] == "Edm.Int64"
    assert full["odata.metadata"].endswith("$metadata#People/@Element")


def test_one_table_by_name(call: Callable[..., StorageResponse]) -> None:
    call("POST", "Tables", {"TableName": "People"})
    got = call("GET", "Tables('people')")
    assert got.status == 200 and json.loads(got.body)["TableName"] == "People"
    with pytest.raises(StorageApiError) as missing:
        call("GET", "Tables('Nobody')")
    assert missing.value.status == 404


@pytest.mark.parametrize(("method", "path", "code"), [
    ("GET", "", "NotImplemented"),
    ("PUT", "Tables('People')", "NotImplemented"),
    ("PUT", "People", "UnsupportedHttpVerb"),
    ("DELETE", "People(PartitionKey='p',RowKey='r')", "MissingRequiredHeader"),
    ("GET", "bad-name()", "InvalidResourceName"),
    ("GET", "People(RowKey='r')", "InvalidUri"),
])
def test_refusals(call: Callable[..., StorageResponse], method: str, path: str, code: str) -> None:
    call("POST", "Tables", {"TableName": "People"})
    with pytest.raises(StorageApiError) as refused:
        call(method, path)
    assert refused.value.code == code


def test_tables_page_in_case_insensitive_order(call: Callable[..., StorageResponse]) -> None:
    for name in ["beta", "Alpha", "gamma", "Delta"]:
        call("POST", "Tables", {"TableName": name})
    seen: list[list[str]] = []
    query = {"$top": "3"}
    while True:
        response = call("GET", "Tables", query=query)
        seen.append([t["TableName"] for t in json.loads(response.body)["value"]])
        token = response.headers.get("x-ms-continuation-NextTableName")
        if token is None:
            break
        query = {"$top": "3", "NextTableName": token}
    assert seen == [["Alpha", "beta", "Delta"], ["gamma"]]
