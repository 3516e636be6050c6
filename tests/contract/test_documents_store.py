"""The DocumentStore contract (Cosmos DB containers, items and change feed), run against every backend.

Time is a FakeClock. To add a backend, add a line to ``BACKEND_CASES`` in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.documents_store import UNDEFINED, DocumentStore
from overcast.errors import DocumentConflict, DocumentInvalid, DocumentNotFound, DocumentPrecondition
from tests.contract.conftest import Storage
from tests.contract.store_helpers import START, FakeClock, race_processes, race_threads

DB, COLL = "shop", "orders"


@pytest.fixture
def store(storage: Storage) -> Iterator[DocumentStore]:
    opened = storage.backend().open_documents()
    opened.create_container(DB, COLL, "/customer")
    yield opened
    opened.close()


def test_containers_are_created_once_and_listed_with_counts(store: DocumentStore) -> None:
    again = store.create_container(DB, COLL, "/other")
    assert again.partition_key_path == "/customer"  # an existing container keeps its partition key
    store.create_container(DB, "leases", "/id", feed_ranges=1)
    store.create_container("audit", "events")
    store.write(DB, COLL, {"id": "1", "customer": "a"})
    listed = {(c.database, c.name): (c.partition_key_path, c.feed_ranges, c.count) for c in store.list_containers()}
    assert listed == {("audit", "events"): ("/id", 4, 0), (DB, "leases"): ("/id", 1, 0),
                      (DB, COLL): ("/customer", 4, 1)}
    assert store.databases() == ["audit", DB]
    assert store.get_container(DB, "nope") is None
    assert store.delete_container(DB, "leases") is True
    assert store.delete_container(DB, "leases") is False


@pytest.mark.parametrize("name", ["", "a/b", "a#b", "q?", "back\\slash", "trailing ", "x" * 256])
def test_bad_container_names_are_refused(store: DocumentStore, name: str) -> None:
    with pytest.raises(DocumentInvalid, match="name"):
        store.create_container(DB, name)


def test_bad_partition_key_paths_are_refused(store: DocumentStore) -> None:
    for path in ("id", "/", "/a//b", ""):
        with pytest.raises(DocumentInvalid, match="partition key path"):
            store.create_container(DB, "c2", path)


def test_a_write_stamps_the_system_properties(store: DocumentStore, clock: FakeClock) -> None:
    stored = store.write(DB, COLL, {"id": "o1", "customer": "ann", "total": 12.5, "_etag": "ignored"})
    assert stored["id"] == "o1" and stored["total"] == 12.5
    assert stored["_ts"] == int(START)
    assert stored["_etag"].startswith('"') and stored["_etag"] != "ignored"
    assert stored["_self"].startswith("dbs/") and stored["_self"].endswith(f"/docs/{stored['_rid']}/")
    assert stored["_attachments"] == "attachments/"
    assert store.read(DB, COLL, "o1", "ann") == stored


def test_ids_are_unique_per_partition(store: DocumentStore) -> None:
    store.write(DB, COLL, {"id": "same", "customer": "a", "n": 1})
    store.write(DB, COLL, {"id": "same", "customer": "b", "n": 2})
    assert store.read(DB, COLL, "same", "a")["n"] == 1  # type: ignore[index]
    assert store.read(DB, COLL, "same", "b")["n"] == 2  # type: ignore[index]
    assert store.read(DB, COLL, "same", "c") is None
    assert store.get_container(DB, COLL).count == 2  # type: ignore[union-attr]


def test_partition_key_values_of_every_json_kind(store: DocumentStore) -> None:
    store.create_container(DB, "nums", "/k")
    for key, value in [("s", "1"), ("n", 1), ("b", True), ("z", None)]:
        store.write(DB, "nums", {"id": key, "k": value})
    store.write(DB, "nums", {"id": "u"})
    assert store.read(DB, "nums", "s", "1") is not None and store.read(DB, "nums", "s", 1) is None
    assert store.read(DB, "nums", "n", 1) is not None
    assert store.read(DB, "nums", "b", True) is not None
    assert store.read(DB, "nums", "z", None) is not None
    assert store.read(DB, "nums", "u", UNDEFINED) is not None and store.read(DB, "nums", "u", None) is None
    with pytest.raises(DocumentInvalid, match="partition key value"):
        store.write(DB, "nums", {"id": "bad", "k": [1]})


def test_nested_partition_key_paths(store: DocumentStore) -> None:
    store.create_container(DB, "people", "/address/city")
    store.write(DB, "people", {"id": "p", "address": {"city": "Oslo"}})
    assert store.read(DB, "people", "p", "Oslo") is not None


def test_create_replace_upsert_and_their_errors(store: DocumentStore) -> None:
    store.write(DB, COLL, {"id": "x", "customer": "a", "v": 1}, "create")
    with pytest.raises(DocumentConflict, match="already exists"):
        store.write(DB, COLL, {"id": "x", "customer": "a", "v": 2}, "create")
    with pytest.raises(DocumentNotFound, match="to replace"):
        store.write(DB, COLL, {"id": "y", "customer": "a"}, "replace")
    store.write(DB, COLL, {"id": "x", "customer": "a", "v": 3}, "replace")
    store.write(DB, COLL, {"id": "x", "customer": "a", "v": 4}, "upsert")
    found = store.read(DB, COLL, "x", "a")
    assert found is not None and found["v"] == 4 and "v2" not in found


def test_optimistic_concurrency_on_the_etag(store: DocumentStore) -> None:
    first = store.write(DB, COLL, {"id": "x", "customer": "a", "v": 1})
    second = store.write(DB, COLL, {"id": "x", "customer": "a", "v": 2}, "replace", if_match=first["_etag"])
    assert second["_etag"] != first["_etag"] and second["_rid"] == first["_rid"]
    with pytest.raises(DocumentPrecondition, match="changed since it was read"):
        store.write(DB, COLL, {"id": "x", "customer": "a", "v": 3}, "replace", if_match=first["_etag"])
    with pytest.raises(DocumentPrecondition):
        store.delete(DB, COLL, "x", "a", if_match=first["_etag"])
    assert store.read(DB, COLL, "x", "a")["v"] == 2  # type: ignore[index]
    assert store.delete(DB, COLL, "x", "a", if_match=second["_etag"]) is True
    assert store.delete(DB, COLL, "x", "a") is False


@pytest.mark.parametrize("item", [{"customer": "a"}, {"id": 5}, {"id": ""}, {"id": "a/b"}, {"id": "x", "f": {1, 2}}])
def test_bad_items_are_refused_and_nothing_is_written(store: DocumentStore, item: dict[str, object]) -> None:
    with pytest.raises(DocumentInvalid):
        store.write(DB, COLL, item)
    assert store.get_container(DB, COLL).count == 0  # type: ignore[union-attr]


def test_a_missing_container_is_an_error_naming_it(store: DocumentStore) -> None:
    with pytest.raises(DocumentNotFound, match="'ghost' of database 'shop' does not exist"):
        store.write(DB, "ghost", {"id": "1"})
    with pytest.raises(DocumentNotFound):
        store.read(DB, "ghost", "1", "1")
    with pytest.raises(DocumentNotFound):
        store.read_feed(DB, "ghost", None, 0)


def test_items_by_partition(store: DocumentStore) -> None:
    for n in range(5):
        store.write(DB, COLL, {"id": f"i{n}", "customer": "a" if n % 2 else "b"})
    assert [d["id"] for d in store.items(DB, COLL)] == ["i1", "i3", "i0", "i2", "i4"]  # by partition, then id
    assert [d["id"] for d in store.items(DB, COLL, "a", any_partition=False)] == ["i1", "i3"]
    assert len(store.items(DB, COLL, limit=2)) == 2


def test_the_change_feed_is_in_write_order_and_an_update_moves_to_the_end(store: DocumentStore) -> None:
    for n in range(4):
        store.write(DB, COLL, {"id": f"i{n}", "customer": f"c{n}"})
    store.write(DB, COLL, {"id": "i1", "customer": "c1", "updated": True})
    feed = store.read_feed(DB, COLL, None, 0)
    assert [f.document["id"] for f in feed] == ["i0", "i2", "i3", "i1"]
    assert [f.sequence for f in feed] == sorted(f.sequence for f in feed)
    assert feed[-1].document["updated"] is True
    assert [f.document["id"] for f in store.read_feed(DB, COLL, None, feed[1].sequence)] == ["i3", "i1"]
    assert len(store.read_feed(DB, COLL, None, 0, limit=2)) == 2
    store.delete(DB, COLL, "i3", "c3")  # latest-version mode: a delete is not in the feed
    assert [f.document["id"] for f in store.read_feed(DB, COLL, None, 0)] == ["i0", "i2", "i1"]
    assert store.get_container(DB, COLL).sequence == feed[-1].sequence  # type: ignore[union-attr]


def test_feed_ranges_split_the_feed(store: DocumentStore) -> None:
    for n in range(40):
        store.write(DB, COLL, {"id": f"i{n}", "customer": f"c{n}"})
    ranges = [store.read_feed(DB, COLL, r, 0) for r in range(4)]
    assert all(ranges), "40 partitions spread over all 4 ranges"
    everything = [f.sequence for f in store.read_feed(DB, COLL, None, 0)]
    assert sorted(f.sequence for part in ranges for f in part) == everything
    for number, part in enumerate(ranges):
        assert {f.feed_range for f in part} == {number}
    # One partition is always in one range.
    store.write(DB, COLL, {"id": "again", "customer": "c7"})
    home = next(f.feed_range for f in store.read_feed(DB, COLL, None, 0) if f.document["customer"] == "c7")
    assert {f.feed_range for f in store.read_feed(DB, COLL, None, 0) if f.document["customer"] == "c7"} == {home}


def test_sequence_before_a_time_starts_the_feed_there(store: DocumentStore, clock: FakeClock) -> None:
    assert store.sequence_before(DB, COLL, START) == 0
    store.write(DB, COLL, {"id": "old", "customer": "a"})
    clock.advance(60)
    store.write(DB, COLL, {"id": "new", "customer": "a"})
    after = store.sequence_before(DB, COLL, START + 30)
    assert [f.document["id"] for f in store.read_feed(DB, COLL, None, after)] == ["new"]
    assert store.sequence_before(DB, COLL, START + 120) == store.get_container(DB, COLL).sequence  # type: ignore[union-attr]


def test_concurrent_writers_get_distinct_sequences(store: DocumentStore) -> None:
    def worker(n: int) -> list[int]:
        return [store.write(DB, COLL, {"id": f"{n}-{i}", "customer": str(n)})["_ts"] for i in range(20)]

    race_threads(4, worker)
    feed = store.read_feed(DB, COLL, None, 0)
    assert len(feed) == 80 and len({f.sequence for f in feed}) == 80


def test_processes_share_the_container_and_its_feed(storage: Storage, store: DocumentStore) -> None:
    setup = storage.child_setup("open_documents")
    if setup is None:
        pytest.skip(f"the {storage.name} backend lives in one process")
    body = ("n = int(sys.argv[1])\n"
            "for i in range(25):\n"
            f"    store.write({DB!r}, {COLL!r}, {{'id': f'{{n}}-{{i}}', 'customer': str(n)}})\n"
            "result = n")
    race_processes(setup, body, children=2)
    feed = store.read_feed(DB, COLL, None, 0)
    assert len(feed) == 50 and [f.sequence for f in feed] == list(range(1, 51))


def test_data_survives_reopening(storage: Storage, store: DocumentStore) -> None:
    if not storage.reopens:
        pytest.skip(f"the {storage.name} backend keeps data in the store object")
    store.write(DB, COLL, {"id": "kept", "customer": "a"})
    again = storage.backend().open_documents()
    try:
        assert again.read(DB, COLL, "kept", "a") is not None
        assert again.get_container(DB, COLL).sequence == 1  # type: ignore[union-attr]
    finally:
        again.close()


QUERIES = [
    ("SELECT * FROM c WHERE c.total > @min ORDER BY c.total", {"@min": 40}, None),
    ("SELECT VALUE c.id FROM c WHERE c.customer = 'c1' ORDER BY c.id", {}, None),
    ("SELECT c.id, c.total FROM c WHERE ARRAY_CONTAINS(c.tags, 'red') ORDER BY c.id DESC", {}, None),
    ("SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.id, 'o1')", {}, None),
    ("SELECT TOP 3 c.id FROM c ORDER BY c.total DESC", {}, None),
    ("SELECT VALUE c.id FROM c ORDER BY c.id", {}, "c2"),
    ("SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.id = @id", {"id": "o3"}, None),
]


@pytest.mark.parametrize(("text", "parameters", "partition"), QUERIES)
def test_queries_match_the_reference_evaluator(store: DocumentStore, text: str, parameters: dict[str, object],
                                               partition: str | None) -> None:
    from overcast.backends.cosmos_sql import evaluate

    for n in range(24):
        store.write(DB, COLL, {"id": f"o{n}", "customer": f"c{n % 3}", "total": n * 3,
                               "tags": ["red", "blue"] if n % 2 else ["green"]})
    documents = store.items(DB, COLL, partition, any_partition=partition is None)
    expected = evaluate(text, documents, parameters)
    assert expected, "each query has results"
    assert store.query(DB, COLL, text, parameters, partition, any_partition=partition is None) == expected


def test_a_query_outside_the_subset_or_on_a_missing_container_is_an_error(store: DocumentStore) -> None:
    from overcast.errors import QueryError

    with pytest.raises(QueryError):
        store.query(DB, COLL, "UPDATE c SET c.x = 1")
    with pytest.raises(DocumentNotFound):
        store.query(DB, "ghost", "SELECT * FROM c")
