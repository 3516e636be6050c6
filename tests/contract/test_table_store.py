"""The TableStore contract (Azure Tables semantics), run against every backend.

Time is a FakeClock: tests move it instead of sleeping. To add a backend (PostgreSQL, Azure Storage, ...), add a
line to ``BACKEND_CASES`` in conftest.py; every test above the "SQLite
specifics" section then runs against it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from overcast.backends import TableStore, open_table_store
from overcast.backends.sqlite.tables import SqliteTableStore
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

# Pages of the SQLite query: tests that must cross a page boundary use more rows than this.
SQLITE_PAGE = 500


Backend = store_helpers.Backend[TableStore]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(
        storage.name, lambda: storage.backend().open_tables(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_tables"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> TableStore:
    return backend.open()


def keys(entities: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["PartitionKey"], e["RowKey"]) for e in entities]


def user_properties(entity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entity without the properties the store sets (PartitionKey, RowKey, Timestamp)."""
    assert entity is not None
    return {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey", "Timestamp")}


def fill(store: TableStore, table: str, count: int, partitions: int = 1) -> None:
    """``count`` entities spread over ``partitions``, inserted in a shuffled order; RowKeys sort as numbers."""
    rows = [(f"p{i % partitions}", f"{i:05}") for i in range(count)]
    random.Random(count).shuffle(rows)
    for pk, rk in rows:
        store.insert(table, {"PartitionKey": pk, "RowKey": rk, "n": int(rk)})


# -- insert, upsert, get -----------------------------------------------------------------------------------------


def test_insert_then_get(store: TableStore) -> None:
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "amount": 5, "note": "first"})
    entity = store.get("Orders", "p", "r")
    assert entity is not None
    assert entity["PartitionKey"] == "p" and entity["RowKey"] == "r"
    assert user_properties(entity) == {"amount": 5, "note": "first"}
    assert set(entity) == {"PartitionKey", "RowKey", "Timestamp", "amount", "note"}


def test_insert_of_an_existing_entity_is_refused_and_changes_nothing(store: TableStore, clock: FakeClock) -> None:
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "v": 1})
    before = store.get("Orders", "p", "r")
    clock.advance(10)
    with pytest.raises(StoreError, match="already has an entity") as caught:
        store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "v": 2})
    assert "'p'" in str(caught.value) and "'r'" in str(caught.value) and "upsert" in str(caught.value)
    assert store.get("Orders", "p", "r") == before
    with pytest.raises(StoreError, match="already has an entity"):
        store.insert("ORDERS", {"PartitionKey": "p", "RowKey": "r"})  # the same table in another case
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r2"})  # same partition, new row: fine
    store.insert("Orders", {"PartitionKey": "p2", "RowKey": "r"})  # same row, new partition: fine
    store.insert("Others", {"PartitionKey": "p", "RowKey": "r"})  # same keys, other table: fine


def test_upsert_inserts_then_replaces_the_whole_entity(store: TableStore) -> None:
    store.upsert("Orders", {"PartitionKey": "p", "RowKey": "r", "keep": 1, "drop": "gone soon"})
    assert user_properties(store.get("Orders", "p", "r")) == {"keep": 1, "drop": "gone soon"}
    store.upsert("Orders", {"PartitionKey": "p", "RowKey": "r", "keep": 2, "new": True})
    assert user_properties(store.get("Orders", "p", "r")) == {"keep": 2, "new": True}  # a replace, not a merge
    store.upsert("Orders", {"PartitionKey": "p", "RowKey": "r"})
    assert user_properties(store.get("Orders", "p", "r")) == {}
    assert len(store.query("Orders")) == 1


def test_get_of_a_missing_entity_is_none(store: TableStore) -> None:
    assert store.get("Orders", "p", "r") is None  # missing table
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r"})
    assert store.get("Orders", "p", "other") is None
    assert store.get("Orders", "other", "r") is None
    assert store.get("Orders", "P", "R") is None  # keys are case-sensitive
    assert store.get("Others", "p", "r") is None


def test_the_store_sets_the_timestamp_on_every_write(store: TableStore, clock: FakeClock) -> None:
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "Timestamp": "2000-01-01T00:00:00Z"})
    entity = store.get("Orders", "p", "r")
    assert entity is not None
    assert entity["Timestamp"] == "2023-11-14T22:13:20.000000Z"  # the FakeClock's start, not the caller's value
    clock.advance(0.25)
    store.upsert("Orders", {"PartitionKey": "p", "RowKey": "r", "Timestamp": datetime(2000, 1, 1)})
    entity = store.get("Orders", "p", "r")
    assert entity is not None
    assert entity["Timestamp"] == "2023-11-14T22:13:20.250000Z"
    assert user_properties(entity) == {}
    clock.advance(60)
    store.get("Orders", "p", "r")  # reading does not touch it
    [queried] = store.query("Orders")
    assert queried["Timestamp"] == "2023-11-14T22:13:20.250000Z"


def test_the_caller_entity_is_not_changed(store: TableStore) -> None:
    entity: dict[str, Any] = {"PartitionKey": "p", "RowKey": "r", "Timestamp": "mine", "list": [1]}
    store.upsert("Orders", entity)
    assert entity == {"PartitionKey": "p", "RowKey": "r", "Timestamp": "mine", "list": [1]}
    entity["list"].append(2)  # the store kept its own copy
    assert user_properties(store.get("Orders", "p", "r")) == {"list": [1]}


def test_table_names_ignore_case(store: TableStore) -> None:
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "1"})
    store.upsert("ORDERS", {"PartitionKey": "p", "RowKey": "2"})
    store.insert("orders", {"PartitionKey": "p", "RowKey": "3"})
    assert keys(store.query("oRdErS")) == [("p", "1"), ("p", "2"), ("p", "3")]
    assert store.get("ORDERS", "p", "1") is not None
    assert store.delete("orders", "p", "1") is True
    assert store.get("Orders", "p", "1") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("text", "héllo wörld 😀 鍵"),
        ("empty", ""),
        ("zero", 0),
        ("int", -42),
        ("big_int", 2**53 + 1),
        ("float", 2.0),
        ("fraction", 0.1),
        ("true", True),
        ("false", False),
        ("none", None),
        ("list", [1, "two", None, 3.5, [True]]),
        ("dict", {"nested": {"deep": [1, {"x": "y"}]}, "empty": {}}),
    ],
)
def test_values_round_trip_with_their_types(store: TableStore, name: str, value: object) -> None:
    store.insert("Values", {"PartitionKey": "p", "RowKey": name, name: value})
    stored = user_properties(store.get("Values", "p", name))[name]
    assert stored == value
    assert type(stored) is type(value)  # True stays a bool, 2.0 stays a float
    [queried] = store.query("Values")
    assert queried[name] == value and type(queried[name]) is type(value)


def test_many_properties_and_unicode_property_names(store: TableStore) -> None:
    properties = {f"prop{i}": i for i in range(200)} | {"ünïcode": 1, "_under": 2, "CamelCase": 3}
    store.insert("Wide", {"PartitionKey": "p", "RowKey": "r", **properties})
    assert user_properties(store.get("Wide", "p", "r")) == properties


@pytest.mark.parametrize(
    "value",
    [b"bytes", datetime(2024, 1, 1), {1, 2}, object(), [b"inside a list"], {"nested": {1, 2}}],
    ids=["bytes", "datetime", "set", "object", "bytes-in-list", "set-in-dict"],
)
def test_a_value_json_cannot_hold_is_refused_naming_the_entity(store: TableStore, value: object) -> None:
    with pytest.raises(StoreError) as caught:
        store.insert("Orders", {"PartitionKey": "pk1", "RowKey": "rk1", "bad": value})
    message = str(caught.value)
    assert "('pk1', 'rk1')" in message and "'Orders'" in message
    assert "cannot be stored" in message and "ISO strings" in message
    with pytest.raises(StoreError, match="cannot be stored"):
        store.upsert("Orders", {"PartitionKey": "pk1", "RowKey": "rk1", "bad": value})
    assert store.get("Orders", "pk1", "rk1") is None
    assert store.query("Orders") == []


def test_a_property_name_that_is_not_a_string_is_refused(store: TableStore) -> None:
    with pytest.raises(StoreError, match="property name 1 must be a string"):
        store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", 1: "x"})  # type: ignore[dict-item]
    assert store.get("Orders", "p", "r") is None


# -- keys --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["PartitionKey", "RowKey"])
@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("a/b", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("a#b", "contains '#'"),
        ("a?b", "contains '?'"),
        ("a\x00b", "contains '\\x00'"),
        ("tab\there", "contains '\\t'"),
        ("line\nbreak", "contains '\\n'"),
        ("\x1f", "contains '\\x1f'"),
        ("\x7f", "contains '\\x7f'"),
        ("c1\x85", "contains '\\x85'"),
        ("\x9f", "contains '\\x9f'"),
        ("x" * 1025, "has 1025 characters"),
        ("lone \ud800", "not valid Unicode"),
        (7, "must be a string, not int"),
        (None, "must be a string, not NoneType"),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_invalid_keys_are_refused(store: TableStore, kind: str, key: Any, problem: str) -> None:
    """Writes refuse them as Azure does; reads and deletes too, since no entity can have such a key."""
    entity = {"PartitionKey": "ok", "RowKey": "ok", kind: key}
    calls: list[Callable[[], object]] = [
        lambda: store.insert("Orders", entity),
        lambda: store.upsert("Orders", entity),
        lambda: store.get("Orders", entity["PartitionKey"], entity["RowKey"]),
        lambda: store.delete("Orders", entity["PartitionKey"], entity["RowKey"]),
    ]
    if kind == "PartitionKey" and key is not None:  # a partition_key of None means "every partition"
        calls.append(lambda: store.query("Orders", partition_key=key))
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        assert f"Entity for table 'Orders': {kind}" in str(caught.value)
        assert problem in str(caught.value)
    assert store.query("Orders") == []


def test_a_missing_key_is_refused(store: TableStore) -> None:
    with pytest.raises(StoreError, match="PartitionKey must be a string, not NoneType"):
        store.insert("Orders", {"RowKey": "r"})
    with pytest.raises(StoreError, match="RowKey must be a string, not NoneType"):
        store.upsert("Orders", {"PartitionKey": "p"})


def test_keys_at_the_limits_are_accepted(store: TableStore) -> None:
    """Azure allows empty keys, 1 KiB keys, and any printable character but the four it forbids."""
    accepted = [("", ""), ("x" * 1024, "y" * 1024), ("a b.c-d_e~f!g$h&i'j(k)l*m+n,o;p=q:r@s%t", "é鍵😀\u00a0")]
    for pk, rk in accepted:
        store.insert("Keys", {"PartitionKey": pk, "RowKey": rk, "v": pk[:5]})
    for pk, rk in accepted:
        entity = store.get("Keys", pk, rk)
        assert entity is not None and entity["v"] == pk[:5]
    assert keys(store.query("Keys")) == sorted(accepted)


@pytest.mark.parametrize(
    ("table", "valid"),
    [
        ("abc", True), ("A" + "b" * 62, True), ("Orders2024", True), ("Tables1", True),
        ("ab", False), ("A" + "b" * 63, False), ("1orders", False), ("my-table", False), ("my_table", False),
        ("", False), ("tables", False), ("TABLES", False), ("tábla", False),
    ],
)
def test_table_names_follow_azure_rules(store: TableStore, table: str, valid: bool) -> None:
    if valid:
        store.insert(table, {"PartitionKey": "p", "RowKey": "r"})
        assert store.get(table, "p", "r") is not None
        return
    calls: list[Callable[[], object]] = [
        lambda: store.insert(table, {"PartitionKey": "p", "RowKey": "r"}),
        lambda: store.upsert(table, {"PartitionKey": "p", "RowKey": "r"}),
        lambda: store.get(table, "p", "r"),
        lambda: store.query(table),
        lambda: store.delete(table, "p", "r"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match=f"Table name '{table}' is invalid; use 3-63 letters and digits"):
            call()


# -- query -------------------------------------------------------------------------------------------------------


def test_query_orders_by_partition_then_row_key_as_strings(store: TableStore) -> None:
    pairs = [(pk, rk) for pk in ("b", "a", "B", "é", "a b", "") for rk in ("2", "10", "1", "", "Z", "z")]
    random.Random(7).shuffle(pairs)
    for pk, rk in pairs:
        store.insert("Orders", {"PartitionKey": pk, "RowKey": rk})
    # Code point order, as Azure sorts keys: "" first, upper case before lower case, "10" before "2".
    assert keys(store.query("Orders")) == sorted(pairs)
    assert keys(store.query("Orders"))[:3] == [("", ""), ("", "1"), ("", "10")]


def test_query_of_one_partition(store: TableStore) -> None:
    fill(store, "Orders", 30, partitions=3)
    store.insert("Orders", {"PartitionKey": "p1x", "RowKey": "0"})  # a longer key with p1 as its prefix
    found = store.query("Orders", partition_key="p1")
    assert keys(found) == [("p1", f"{i:05}") for i in range(1, 30, 3)]
    assert store.query("Orders", partition_key="P1") == []
    assert store.query("Orders", partition_key="p") == []  # an exact key, never a prefix
    assert store.query("Orders", partition_key="") == []


def test_query_of_a_missing_table_is_empty(store: TableStore) -> None:
    assert store.query("Nothing") == []
    assert store.query("Nothing", lambda e: True, partition_key="p", take=5) == []


def test_query_with_a_predicate_sees_whole_entities(store: TableStore) -> None:
    fill(store, "Orders", 20, partitions=2)
    seen: list[Mapping[str, Any]] = []

    def even_in_p0(entity: Mapping[str, Any]) -> bool:
        seen.append(entity)
        return bool(entity["PartitionKey"] == "p0" and entity["n"] % 4 == 0)

    found = store.query("Orders", even_in_p0)
    assert [e["n"] for e in found] == [0, 4, 8, 12, 16]
    assert len(seen) == 20
    assert all(set(e) == {"PartitionKey", "RowKey", "Timestamp", "n"} for e in seen)
    assert all(isinstance(e["Timestamp"], str) and e["Timestamp"].endswith("Z") for e in seen)
    assert keys(store.query("Orders", lambda e: e["n"] > 15, partition_key="p1")) == [("p1", "00017"),
                                                                                        ("p1", "00019")]
    assert store.query("Orders", lambda e: False) == []


def test_take_returns_the_first_matches_in_order(store: TableStore) -> None:
    fill(store, "Orders", 10)
    assert [e["n"] for e in store.query("Orders", take=3)] == [0, 1, 2]
    assert [e["n"] for e in store.query("Orders", take=1)] == [0]
    assert len(store.query("Orders", take=100)) == 10
    assert [e["n"] for e in store.query("Orders", lambda e: e["n"] % 3 == 0, take=2)] == [0, 3]
    assert [e["n"] for e in store.query("Orders", lambda e: e["n"] > 7, take=5)] == [8, 9]


@pytest.mark.parametrize("take", [0, -1])
def test_take_must_be_positive(store: TableStore, take: int) -> None:
    fill(store, "Orders", 3)
    with pytest.raises(StoreError, match=f"take must be at least 1 \\(got {take}\\)"):
        store.query("Orders", take=take)


def test_queries_over_more_rows_than_one_page(store: TableStore) -> None:
    """Backends may read in pages (SQLite reads 500 rows at a time): results are the same across the seams."""
    count = 3 * SQLITE_PAGE + 17
    fill(store, "Big", count, partitions=2)
    everything = store.query("Big")
    assert keys(everything) == sorted((f"p{i % 2}", f"{i:05}") for i in range(count))
    assert keys(store.query("Big", take=SQLITE_PAGE + 1)) == keys(everything)[: SQLITE_PAGE + 1]
    assert keys(store.query("Big", take=count + 5)) == keys(everything)
    # A sparse predicate with take: the matches lie on several pages, the last one past where take stops.
    # p0 holds the even numbers in order, then p1 the odd ones: the third match, 397, is on the second page.
    rare = store.query("Big", lambda e: e["n"] % 397 == 0, take=3)
    assert [e["n"] for e in rare] == [0, 794, 397]
    every_third = store.query("Big", lambda e: e["n"] % 3 == 0, take=600)
    in_order = [n for n in range(0, count, 3) if n % 2 == 0] + [n for n in range(0, count, 3) if n % 2 == 1]
    assert [e["n"] for e in every_third] == in_order[:600]
    assert len(store.query("Big", lambda e: e["n"] % 3 == 0)) == len(range(0, count, 3))
    assert len(store.query("Big", partition_key="p1")) == count // 2
    odd = store.query("Big", lambda e: e["n"] > count - 10, partition_key="p1", take=700)
    assert [e["n"] for e in odd] == [n for n in range(count - 9, count) if n % 2 == 1]


# -- delete ------------------------------------------------------------------------------------------------------


def test_delete_reports_whether_the_entity_existed(store: TableStore) -> None:
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r"})
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "s"})
    assert store.delete("Orders", "p", "r") is True
    assert store.get("Orders", "p", "r") is None
    assert store.delete("Orders", "p", "r") is False
    assert store.delete("Orders", "q", "s") is False
    assert store.delete("Nothing", "p", "s") is False
    assert keys(store.query("Orders")) == [("p", "s")]
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "again": True})  # insert works after a delete
    assert user_properties(store.get("Orders", "p", "r")) == {"again": True}


# -- lifecycle ---------------------------------------------------------------------------------------------------


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    store.insert("Orders", {"PartitionKey": "p", "RowKey": "r"})
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.insert("Orders", {"PartitionKey": "p", "RowKey": "s"}),
        lambda: store.upsert("Orders", {"PartitionKey": "p", "RowKey": "r"}),
        lambda: store.get("Orders", "p", "r"),
        lambda: store.query("Orders"),
        lambda: store.delete("Orders", "p", "r"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="closed"):
            call()
    store.close()  # closing twice is harmless


def test_data_survives_reopening(backend: Backend, clock: FakeClock) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store does not persist")
    first = backend.open()
    first.insert("Orders", {"PartitionKey": "p", "RowKey": "r", "nested": {"a": [1, 2.5, None]}})
    written = first.get("Orders", "p", "r")
    first.insert("Orders", {"PartitionKey": "p", "RowKey": "gone"})
    first.delete("Orders", "p", "gone")
    first.close()
    clock.advance(100)
    second = backend.open()
    assert second.query("ORDERS") == [written]
    with pytest.raises(StoreError, match="already has an entity"):
        second.insert("Orders", {"PartitionKey": "p", "RowKey": "r"})


# -- concurrency -------------------------------------------------------------------------------------------------


def test_threads_inserting_the_same_entity_exactly_one_wins(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]

    def insert_all(index: int) -> list[str]:
        store = stores[index % len(stores)]
        won = []
        for i in range(50):
            try:
                store.insert("Race", {"PartitionKey": "p", "RowKey": f"{i:03}", "winner": index})
            except StoreError:
                continue
            won.append(f"{i:03}")
        return won

    results = race_threads(6, insert_all)
    won = sorted(rk for result in results for rk in result)
    assert won == [f"{i:03}" for i in range(50)], "a row was inserted twice, or not at all"
    for index, result in enumerate(results):
        for rk in result:
            entity = stores[0].get("Race", "p", rk)
            assert entity is not None and entity["winner"] == index


def test_processes_inserting_the_same_entities_exactly_one_wins(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    body = (
        "from overcast.errors import StoreError\n"
        "result = []\n"
        "for i in range(150):\n"
        "    try:\n"
        "        store.insert('Race', {'PartitionKey': 'p', 'RowKey': f'{i:03}', 'winner': int(sys.argv[1])})\n"
        "    except StoreError as exc:\n"
        "        assert 'already has an entity' in str(exc), exc\n"
        "        continue\n"
        "    result.append(f'{i:03}')\n"
    )
    # Created before the children start: processes creating a fresh database at once can fail to switch it to WAL.
    store = backend.open()
    results = race_processes(backend.child_setup, body, children=3)
    won = sorted(rk for result in results for rk in result)
    assert won == [f"{i:03}" for i in range(150)], "a row was inserted twice, or not at all"
    winners = {e["RowKey"]: e["winner"] for e in store.query("Race")}
    assert winners == {rk: index for index, result in enumerate(results) for rk in result}


# -- SQLite specifics --------------------------------------------------------------------------------------------


def test_open_table_store_uses_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_table_store(data_dir)
    try:
        store.insert("Orders", {"PartitionKey": "p", "RowKey": "r"})
        assert keys(store.query("Orders")) == [("p", "r")]
    finally:
        store.close()
    assert (data_dir / "overcast.db").is_file()


def test_sqlite_page_size_is_the_one_the_tests_cross() -> None:
    from overcast.backends.sql.tables import _PAGE  # the SQLite and PostgreSQL stores' shared core

    assert _PAGE == SQLITE_PAGE


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteTableStore(bad)
    assert str(bad) in str(caught.value)
    assert "table store" in str(caught.value)
