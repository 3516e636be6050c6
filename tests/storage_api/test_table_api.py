"""The Table API through the real ``azure-data-tables`` SDK (sync and async), against Overcast and Azurite alike.

Every test runs once per server (the ``target`` fixture): both must give the SDK the same results.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timezone

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import (
    EdmType,
    EntityProperty,
    TableClient,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)
from azure.data.tables.aio import TableServiceClient as AsyncTableServiceClient

from .conftest import Target


@pytest.fixture
def table_name(name: str) -> str:
    return "T" + name[1:]  # table names keep their case: a capital shows it does


def service(target: Target) -> TableServiceClient:
    return TableServiceClient.from_connection_string(target.connection_string)


def table(target: Target, name: str) -> TableClient:
    return TableClient.from_connection_string(target.connection_string, name)


def code(exc: BaseException) -> str | None:
    """The service's error code as the SDK reports it (its exceptions carry it in different places)."""
    found = getattr(exc, "error_code", None)
    if found is None:
        match = re.search(r"ErrorCode:(\w+)", str(exc))
        found = match.group(1) if match else None
    response = getattr(exc, "response", None)
    if found is None and response is not None:
        found = response.headers.get("x-ms-error-code")
    return None if found is None else str(getattr(found, "value", found))


def test_tables_are_created_listed_queried_and_deleted(target: Target, table_name: str) -> None:
    client = service(target)
    client.create_table(table_name + "a")
    client.create_table(table_name + "b")
    with pytest.raises(ResourceExistsError) as exists:
        client.create_table(table_name + "A")  # names ignore case
    assert code(exists.value) == "TableAlreadyExists"
    names = [t.name for t in client.list_tables() if t.name.startswith(table_name)]
    assert names == [table_name + "a", table_name + "b"]
    found = [t.name for t in client.query_tables(f"TableName eq '{table_name}b'")]
    assert found == [table_name + "b"]
    pages = client.query_tables(f"TableName ge '{table_name}' and TableName lt '{table_name}z'",
                                results_per_page=1).by_page()
    assert [[t.name for t in page] for page in pages] == [[table_name + "a"], [table_name + "b"]]
    client.delete_table(table_name + "a")
    client.delete_table(table_name + "a")  # the SDK ignores a missing table on delete
    assert [t.name for t in client.query_tables(f"TableName eq '{table_name}a'")] == []
    client.create_table_if_not_exists(table_name + "b")


def test_service_properties_are_the_defaults(target: Target) -> None:
    props = service(target).get_service_properties()
    assert props["analytics_logging"] is not None and isinstance(props["cors"], list)  # Azurite keeps other defaults
    service(target).set_service_properties(cors=[])


def test_invalid_table_names_are_refused(target: Target) -> None:
    # Azure answers 400 InvalidResourceName, which the SDK turns into a ValueError naming the rules.
    with pytest.raises((ValueError, HttpResponseError)):
        service(target).create_table("bad-name")


def test_entities_round_trip_with_their_types(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    t.create_table()
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    guid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    t.create_entity({
        "PartitionKey": "p", "RowKey": "r", "Text": "héllo", "Small": 7, "Big": EntityProperty(2**40, EdmType.INT64),
        "Ratio": 2.5, "Whole": 3.0, "Flag": True, "When": when, "Id": guid, "Data": b"\x00\x01binary",
        "Explicit": EntityProperty(5, EdmType.INT64),
    })
    e = t.get_entity("p", "r")
    assert e["Text"] == "héllo" and e["Small"] == 7 and e["Flag"] is True and e["Ratio"] == 2.5
    assert e["Big"] == EntityProperty(2**40, EdmType.INT64) or e["Big"] == 2**40
    assert e["Whole"] == 3.0 and isinstance(e["Whole"], float)
    assert e["When"] == when and e["Id"] == guid and e["Data"] == b"\x00\x01binary"
    assert e["Explicit"] == EntityProperty(5, EdmType.INT64) or e["Explicit"] == 5
    assert e.metadata["etag"].startswith("W/\"datetime'") and isinstance(e.metadata["timestamp"], datetime)
    assert [x["RowKey"] for x in t.query_entities("Data eq X'000162696e617279'")] == ["r"]
    assert [x["RowKey"] for x in t.query_entities(f"Id eq guid'{guid}' and When eq datetime'{when.isoformat()}'")] == [
        "r"]
    with pytest.raises(ResourceNotFoundError) as missing:
        t.get_entity("p", "nope")
    assert code(missing.value) == "ResourceNotFound"


def test_insert_update_merge_upsert_and_delete_with_etags(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    t.create_table()
    created = t.create_entity({"PartitionKey": "p", "RowKey": "r", "a": 1, "b": 2})
    with pytest.raises(ResourceExistsError) as exists:
        t.create_entity({"PartitionKey": "p", "RowKey": "r"})
    assert code(exists.value) == "EntityAlreadyExists"
    replaced = t.update_entity({"PartitionKey": "p", "RowKey": "r", "a": 10}, mode=UpdateMode.REPLACE,
                               etag=created["etag"], match_condition=MatchConditions.IfNotModified)
    assert replaced["etag"] != created["etag"]
    assert {k: v for k, v in t.get_entity("p", "r").items()} == {"PartitionKey": "p", "RowKey": "r", "a": 10}
    with pytest.raises(HttpResponseError) as stale:
        t.update_entity({"PartitionKey": "p", "RowKey": "r", "c": 3}, mode=UpdateMode.MERGE,
                        etag=created["etag"], match_condition=MatchConditions.IfNotModified)
    assert stale.value.status_code == 412 and code(stale.value) == "UpdateConditionNotSatisfied"
    t.update_entity({"PartitionKey": "p", "RowKey": "r", "c": 3}, mode=UpdateMode.MERGE)
    assert dict(t.get_entity("p", "r")) == {"PartitionKey": "p", "RowKey": "r", "a": 10, "c": 3}
    with pytest.raises(ResourceNotFoundError) as nothing:
        t.update_entity({"PartitionKey": "p", "RowKey": "missing", "c": 3}, mode=UpdateMode.MERGE)
    assert code(nothing.value) == "ResourceNotFound"
    t.upsert_entity({"PartitionKey": "p", "RowKey": "r", "d": 4}, mode=UpdateMode.MERGE)
    assert dict(t.get_entity("p", "r")) == {"PartitionKey": "p", "RowKey": "r", "a": 10, "c": 3, "d": 4}
    t.upsert_entity({"PartitionKey": "p", "RowKey": "r", "e": 5}, mode=UpdateMode.REPLACE)
    assert dict(t.get_entity("p", "r")) == {"PartitionKey": "p", "RowKey": "r", "e": 5}
    t.upsert_entity({"PartitionKey": "p", "RowKey": "new", "f": 6}, mode=UpdateMode.MERGE)
    current = t.get_entity("p", "r")
    with pytest.raises(HttpResponseError) as old:
        t.delete_entity("p", "r", etag=created["etag"], match_condition=MatchConditions.IfNotModified)
    assert old.value.status_code == 412
    t.delete_entity("p", "r", etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified)
    t.delete_entity("p", "r")  # the SDK ignores a missing entity on delete
    assert [e["RowKey"] for e in t.list_entities()] == ["new"]


def test_queries_filter_select_top_and_continue(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    t.create_table()
    for p in ("a", "b"):
        for n in range(12):
            t.create_entity({"PartitionKey": p, "RowKey": f"{n:03d}", "n": n, "big": EntityProperty(n, EdmType.INT64),
                             "when": datetime(2024, 1, n + 1, tzinfo=timezone.utc), "tag": "even" if n % 2 else "odd"})
    got = [(e["PartitionKey"], e["n"]) for e in t.query_entities("PartitionKey eq 'b' and n ge 10")]
    assert got == [("b", 10), ("b", 11)]
    assert [e["n"] for e in t.query_entities("big gt 9L and PartitionKey eq 'a'")] == [10, 11]
    assert [e["n"] for e in t.query_entities("when lt datetime'2024-01-03T00:00:00Z' and PartitionKey eq 'a'")] == [
        0, 1]
    assert [e["n"] for e in t.query_entities("@p eq PartitionKey and tag eq @t", parameters={"p": "a", "t": "odd"})
            ][:3] == [0, 2, 4]
    selected = list(t.query_entities("n eq 3", select=["n", "tag"]))
    assert [dict(e) for e in selected] == [{"n": 3, "tag": "even"}, {"n": 3, "tag": "even"}]
    pages = list(t.list_entities(results_per_page=5).by_page())
    sizes = [len(list(page)) for page in pages]
    assert sizes == [5, 5, 5, 5, 4]
    keys = [(e["PartitionKey"], e["RowKey"]) for e in t.list_entities(results_per_page=7)]
    assert keys == sorted(keys) and len(keys) == 24
    with pytest.raises(HttpResponseError) as bad:
        list(t.query_entities("n eqq 3"))
    assert bad.value.status_code == 400


def test_a_transaction_applies_all_or_nothing(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    t.create_table()
    t.create_entity({"PartitionKey": "p", "RowKey": "exists", "v": 0})
    with pytest.raises(TableTransactionError) as failed:
        t.submit_transaction([
            ("create", {"PartitionKey": "p", "RowKey": "one", "v": 1}),
            ("upsert", {"PartitionKey": "p", "RowKey": "two", "v": 2}),
            ("create", {"PartitionKey": "p", "RowKey": "exists", "v": 3}),
        ])
    assert code(failed.value) == "EntityAlreadyExists"
    assert [e["RowKey"] for e in t.list_entities()] == ["exists"]
    results = t.submit_transaction([
        ("create", {"PartitionKey": "p", "RowKey": "one", "v": 1}),
        ("upsert", {"PartitionKey": "p", "RowKey": "two", "v": 2}, {"mode": "replace"}),
        ("update", {"PartitionKey": "p", "RowKey": "exists", "w": 9}, {"mode": "merge"}),
        ("delete", {"PartitionKey": "p", "RowKey": "one"}) if False else
        ("upsert", {"PartitionKey": "p", "RowKey": "three", "v": 3}),
    ])
    assert len(results) == 4 and all("etag" in r for r in results)
    assert [(e["RowKey"], e.get("v"), e.get("w")) for e in t.list_entities()] == [
        ("exists", 0, 9), ("one", 1, None), ("three", 3, None), ("two", 2, None)]
    t.submit_transaction([("delete", {"PartitionKey": "p", "RowKey": "one"}),
                          ("delete", {"PartitionKey": "p", "RowKey": "two"})])
    assert [e["RowKey"] for e in t.list_entities()] == ["exists", "three"]


def test_a_transaction_across_partitions_is_refused(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    t.create_table()
    with pytest.raises(ValueError, match="Partition Keys"):  # the SDK checks before sending
        t.submit_transaction([("create", {"PartitionKey": "a", "RowKey": "1"}),
                              ("create", {"PartitionKey": "b", "RowKey": "1"})])
    with pytest.raises(TableTransactionError) as twice:
        t.submit_transaction([("create", {"PartitionKey": "a", "RowKey": "1"}),
                              ("upsert", {"PartitionKey": "a", "RowKey": "1"})])
    assert code(twice.value) == "InvalidDuplicateRow"
    assert list(t.list_entities()) == []


def test_entity_operations_on_a_missing_table(target: Target, table_name: str) -> None:
    t = table(target, table_name)
    with pytest.raises(ResourceNotFoundError) as missing:
        t.create_entity({"PartitionKey": "p", "RowKey": "r"})
    assert code(missing.value) == "TableNotFound"
    with pytest.raises(ResourceNotFoundError) as query:
        list(t.list_entities())
    assert code(query.value) == "TableNotFound"


def test_the_async_client_sees_the_same_table(target: Target, table_name: str) -> None:
    async def run() -> list[int]:
        async with AsyncTableServiceClient.from_connection_string(target.connection_string) as client:
            await client.create_table(table_name)
            t = client.get_table_client(table_name)
            await t.create_entity({"PartitionKey": "p", "RowKey": "1", "n": 1})
            await t.upsert_entity({"PartitionKey": "p", "RowKey": "2", "n": 2})
            await t.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": "3", "n": 3})])
            found = [e["n"] async for e in t.query_entities("n ge 2")]
            await t.delete_entity("p", "1")
            await client.delete_table(table_name)
            return found

    assert asyncio.run(run()) == [2, 3]


def test_a_sas_allows_only_its_permissions(target: Target, table_name: str) -> None:
    from datetime import datetime, timedelta, timezone

    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
    from azure.data.tables import TableSasPermissions, generate_table_sas

    from .conftest import ACCOUNT, KEY

    table(target, table_name).create_table()
    sas = generate_table_sas(AzureNamedKeyCredential(ACCOUNT, KEY), table_name,
                             permission=TableSasPermissions(add=True),
                             expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    only_add = TableClient(target.table, table_name, credential=AzureSasCredential(sas))
    only_add.create_entity({"PartitionKey": "p", "RowKey": "r"})
    with pytest.raises(HttpResponseError) as refused:
        only_add.upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    assert refused.value.status_code == 403
    with pytest.raises(HttpResponseError) as no_read:
        only_add.get_entity("p", "r")
    assert no_read.value.status_code == 403


def test_the_async_client_updates_with_etags_queries_and_batches(target: Target, table_name: str) -> None:
    async def run() -> None:
        async with AsyncTableServiceClient.from_connection_string(target.connection_string) as client:
            t = client.get_table_client(table_name)
            with pytest.raises(ResourceNotFoundError):
                await t.create_entity({"PartitionKey": "p", "RowKey": "r"})
            await t.create_table()
            assert [x.name async for x in client.query_tables(f"TableName eq '{table_name}'")] == [table_name]
            created = await t.create_entity({"PartitionKey": "p", "RowKey": "r", "n": 1, "s": "a"})
            await t.update_entity({"PartitionKey": "p", "RowKey": "r", "n": 2}, mode=UpdateMode.MERGE,
                                  etag=created["etag"], match_condition=MatchConditions.IfNotModified)
            with pytest.raises(HttpResponseError) as stale:
                await t.update_entity({"PartitionKey": "p", "RowKey": "r", "n": 3}, mode=UpdateMode.REPLACE,
                                      etag=created["etag"], match_condition=MatchConditions.IfNotModified)
            assert stale.value.status_code == 412
            got = await t.get_entity("p", "r", select=["n"])
            assert dict(got) == {"n": 2}
            with pytest.raises(TableTransactionError) as failed:
                await t.submit_transaction([("create", {"PartitionKey": "p", "RowKey": "x"}),
                                            ("update", {"PartitionKey": "p", "RowKey": "nope"})])
            assert code(failed.value) == "ResourceNotFound"
            assert [e["RowKey"] async for e in t.list_entities()] == ["r"]
            await t.delete_entity("p", "r", etag=got.metadata["etag"], match_condition=MatchConditions.IfNotModified)
            assert [e async for e in t.list_entities()] == []
            await client.delete_table(table_name)

    asyncio.run(run())


@pytest.mark.parametrize(("pk", "rk"), [("a b'c(d)&e=f+g%h", "ünï cödé"), ("", "empty partition"), ("p", "")])
def test_keys_with_awkward_characters(target: Target, table_name: str, pk: str, rk: str) -> None:
    t = table(target, table_name)
    t.create_table()
    t.create_entity({"PartitionKey": pk, "RowKey": rk, "v": 1})
    t.update_entity({"PartitionKey": pk, "RowKey": rk, "v": 2}, mode=UpdateMode.MERGE)
    assert t.get_entity(pk, rk)["v"] == 2
    escaped = pk.replace("'", "''")
    assert [e["RowKey"] for e in t.query_entities(f"PartitionKey eq '{escaped}'")] == [rk]
    t.delete_entity(pk, rk)
    assert list(t.list_entities()) == []
