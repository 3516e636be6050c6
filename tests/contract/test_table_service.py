"""The TableServiceStore contract (what the Table REST API needs), run against every backend.

Time is a FakeClock, which stands still unless a test moves it: ETags must change on every write all the same.
Entities written through the service are the entities the table bindings read (on a backend that reopens, also
through a separately opened table store), and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.base import TableStore
from overcast.backends.table_service_store import (
    EntityOp,
    OpFailure,
    StoredEntity,
    TableProblem,
    TableServiceStore,
    WriteKind,
)
from overcast.errors import StoreError
from tests.contract.conftest import Storage
from tests.contract.store_helpers import race_threads

INSERT, REPLACE, MERGE = WriteKind.INSERT, WriteKind.REPLACE, WriteKind.MERGE
UPSERT_REPLACE, UPSERT_MERGE, DELETE = WriteKind.UPSERT_REPLACE, WriteKind.UPSERT_MERGE, WriteKind.DELETE


@pytest.fixture
def service(storage: Storage) -> Iterator[TableServiceStore]:
    store = storage.backend().open_table_service()
    yield store
    store.close()


@pytest.fixture
def tables(storage: Storage, service: TableServiceStore) -> Iterator[TableStore]:
    """The table store the bindings use: the same object on a one-process backend, a second one otherwise."""
    if not storage.reopens:
        yield service
        return
    store = storage.backend().open_tables()
    yield store
    store.close()


def write(service: TableServiceStore, table: str, *ops: EntityOp) -> list[StoredEntity | None]:
    result = service.write_entities(table, ops)
    assert not isinstance(result, OpFailure), result
    return result


def one(service: TableServiceStore, op: EntityOp, table: str = "People") -> StoredEntity:
    [entity] = write(service, table, op)
    assert entity is not None
    return entity


def test_tables_are_created_once_in_any_case(service: TableServiceStore) -> None:
    assert service.create_table("People") is True
    assert service.create_table("people") is False
    assert service.list_tables() == ["People"]
    assert service.delete_table("PEOPLE") is True
    assert service.list_tables() == []
    assert service.delete_table("People") is False


def test_a_table_a_binding_wrote_to_exists(service: TableServiceStore, tables: TableStore) -> None:
    tables.insert("orders", {"PartitionKey": "p", "RowKey": "r", "n": 1})
    assert service.list_tables() == ["orders"]
    assert service.create_table("Orders") is False
    got = service.get_entity("orders", "p", "r")
    assert isinstance(got, StoredEntity) and dict(got.properties) == {"n": 1}


def test_writes_to_a_missing_table_fail(service: TableServiceStore) -> None:
    assert service.write_entities("Nope", [EntityOp(INSERT, "p", "r")]) == OpFailure(0, TableProblem.TABLE_NOT_FOUND)
    assert service.get_entity("Nope", "p", "r") is TableProblem.TABLE_NOT_FOUND
    assert service.query_entities("Nope", None, None, 10) is None


def test_insert_then_get_round_trips_the_wire_form(service: TableServiceStore) -> None:
    service.create_table("People")
    props = {"Name": "Ada", "Big": "9007199254740993", "Big@odata.type": "Edm.Int64", "Ok": True}
    stored = one(service, EntityOp(INSERT, "p", "r", props))
    got = service.get_entity("People", "p", "r")
    assert got == stored and dict(got.properties) == props
    assert got.etag.startswith("W/\"datetime'") and got.etag.endswith("'\"")
    assert service.get_entity("People", "p", "other") is TableProblem.ENTITY_NOT_FOUND


def test_bindings_see_api_entities_as_plain_json(service: TableServiceStore, tables: TableStore) -> None:
    service.create_table("People")
    one(service, EntityOp(INSERT, "p", "r", {"Big": "12", "Big@odata.type": "Edm.Int64", "S": "x"}))
    entity = tables.get("People", "p", "r")
    assert entity is not None
    assert {k: v for k, v in entity.items() if k != "Timestamp"} == {"PartitionKey": "p", "RowKey": "r",
                                                                    "Big": 12, "S": "x"}


def test_insert_of_an_existing_entity_fails_and_changes_nothing(service: TableServiceStore) -> None:
    service.create_table("People")
    first = one(service, EntityOp(INSERT, "p", "r", {"v": 1}))
    assert service.write_entities("People", [EntityOp(INSERT, "p", "r", {"v": 2})]) == OpFailure(
        0, TableProblem.ENTITY_EXISTS)
    assert service.get_entity("People", "p", "r") == first


def test_every_write_gives_a_new_etag_on_a_clock_that_stands_still(service: TableServiceStore) -> None:
    service.create_table("People")
    etags = {one(service, EntityOp(UPSERT_REPLACE, "p", "r", {"v": n})).etag for n in range(5)}
    assert len(etags) == 5


def test_replace_and_merge_need_the_entity_and_a_matching_etag(service: TableServiceStore) -> None:
    service.create_table("People")
    for kind in (REPLACE, MERGE, DELETE):
        assert service.write_entities("People", [EntityOp(kind, "p", "r", {}, "*")]) == OpFailure(
            0, TableProblem.ENTITY_NOT_FOUND)
    first = one(service, EntityOp(INSERT, "p", "r", {"a": 1, "b": 2}))
    replaced = one(service, EntityOp(REPLACE, "p", "r", {"a": 10}, first.etag))
    assert dict(replaced.properties) == {"a": 10}
    for kind in (REPLACE, MERGE, DELETE, UPSERT_MERGE, UPSERT_REPLACE):
        assert service.write_entities("People", [EntityOp(kind, "p", "r", {"c": 3}, first.etag)]) == OpFailure(
            0, TableProblem.CONDITION_NOT_MET)
    merged = one(service, EntityOp(MERGE, "p", "r", {"c": 3}, "*"))
    assert dict(merged.properties) == {"a": 10, "c": 3}
    assert write(service, "People", EntityOp(DELETE, "p", "r", {}, merged.etag)) == [None]
    assert service.get_entity("People", "p", "r") is TableProblem.ENTITY_NOT_FOUND


def test_merge_replaces_a_property_with_its_new_type(service: TableServiceStore) -> None:
    service.create_table("People")
    one(service, EntityOp(INSERT, "p", "r", {"n": "5", "n@odata.type": "Edm.Int64", "keep": "k"}))
    merged = one(service, EntityOp(MERGE, "p", "r", {"n": "five"}, "*"))
    assert dict(merged.properties) == {"n": "five", "keep": "k"}


def test_upserts_insert_or_replace_or_merge(service: TableServiceStore) -> None:
    service.create_table("People")
    assert dict(one(service, EntityOp(UPSERT_MERGE, "p", "r", {"a": 1})).properties) == {"a": 1}
    assert dict(one(service, EntityOp(UPSERT_MERGE, "p", "r", {"b": 2})).properties) == {"a": 1, "b": 2}
    assert dict(one(service, EntityOp(UPSERT_REPLACE, "p", "r", {"c": 3})).properties) == {"c": 3}
    assert dict(one(service, EntityOp(UPSERT_REPLACE, "p", "r2", {"d": 4})).properties) == {"d": 4}


def test_a_batch_applies_all_or_nothing(service: TableServiceStore) -> None:
    service.create_table("People")
    one(service, EntityOp(INSERT, "p", "exists", {"v": 0}))
    failed = service.write_entities("People", [
        EntityOp(INSERT, "p", "a", {"v": 1}),
        EntityOp(DELETE, "p", "exists", {}, "*"),
        EntityOp(INSERT, "p", "exists2", {}),
        EntityOp(REPLACE, "p", "missing", {"v": 2}, "*"),
    ])
    assert failed == OpFailure(3, TableProblem.ENTITY_NOT_FOUND)
    page = service.query_entities("People", None, None, 100)
    assert page is not None and [e.row_key for e in page[0]] == ["exists"]
    done = write(service, "People", EntityOp(INSERT, "p", "a", {"v": 1}), EntityOp(DELETE, "p", "exists", {}, "*"))
    assert done[1] is None and done[0] is not None
    page = service.query_entities("People", None, None, 100)
    assert page is not None and [e.row_key for e in page[0]] == ["a"]


def test_deleting_the_last_entity_keeps_the_table(service: TableServiceStore, tables: TableStore) -> None:
    tables.upsert("orders", {"PartitionKey": "p", "RowKey": "r"})
    write(service, "orders", EntityOp(DELETE, "p", "r", {}, "*"))
    assert service.list_tables() == ["orders"]


def test_query_pages_continue_from_the_next_keys(service: TableServiceStore) -> None:
    service.create_table("People")
    ops = [EntityOp(INSERT, f"p{p}", f"r{r:03d}", {"n": r}) for p in range(2) for r in range(600)]
    write(service, "People", *ops[:100])
    for start in range(100, len(ops), 100):  # batches of 100, as the service allows
        write(service, "People", *ops[start:start + 100])
    seen: list[tuple[str, str]] = []
    start: tuple[str, str] | None = None
    while True:
        page = service.query_entities("People", None, start, 1000)
        assert page is not None
        seen += [(e.partition_key, e.row_key) for e in page[0]]
        start = page[1]
        if start is None:
            break
    assert seen == sorted((op.partition_key, op.row_key) for op in ops)


def test_query_filters_and_stops_after_take(service: TableServiceStore) -> None:
    service.create_table("People")
    write(service, "People", *[EntityOp(INSERT, "p", f"r{n:04d}", {"n": n}) for n in range(100)])
    for _ in range(12):  # more than one SQLite page of non-matching rows
        base = 100 + _ * 100
        write(service, "People", *[EntityOp(INSERT, "q", f"r{n:04d}", {"n": n}) for n in range(base, base + 100)])
    page = service.query_entities("People", lambda e: e.properties["n"] % 7 == 0, None, 3)
    assert page is not None
    assert [e.properties["n"] for e in page[0]] == [0, 7, 14] and page[1] == ("p", "r0021")
    page = service.query_entities("People", lambda e: e.properties["n"] > 1290, ("p", "r0021"), 1000)
    assert page is not None
    assert [e.properties["n"] for e in page[0]] == list(range(1291, 1300)) and page[1] is None


def test_bad_keys_are_refused(service: TableServiceStore) -> None:
    service.create_table("People")
    with pytest.raises(StoreError):
        service.write_entities("People", [EntityOp(INSERT, "p/1", "r")])


def test_concurrent_inserts_of_one_entity_insert_once(service: TableServiceStore) -> None:
    service.create_table("People")
    outcomes = race_threads(8, lambda n: service.write_entities("People", [EntityOp(INSERT, "p", "r", {"n": n})]))
    assert sum(1 for o in outcomes if not isinstance(o, OpFailure)) == 1
