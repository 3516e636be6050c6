"""The EventHubsStore contract (partitioned event logs, checkpoints, ownership), run against every backend.

Time is a FakeClock: retention and ownership expiry move with it. A backend joins by its line in
``BACKEND_CASES`` (conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.eventhubs_store import (
    DEFAULT_CONSUMER_GROUP,
    EventData,
    EventHubsStore,
    partition_for_key,
    partition_hash,
)
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

Backend = store_helpers.Backend[EventHubsStore]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    chosen = Backend(
        storage.name, lambda: storage.backend().open_eventhubs(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_eventhubs"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> EventHubsStore:
    return backend.open()


def _bodies(events: list) -> list[bytes]:  # type: ignore[type-arg]
    return [e.body for e in events]


# -- hubs and consumer groups --------------------------------------------------------------------------------


def test_a_hub_is_created_with_its_partitions_and_the_default_group(store: EventHubsStore) -> None:
    assert store.hub("orders") is None
    info = store.ensure_hub("Orders", 4, ["audit"])
    assert info.name == "Orders"
    assert info.partition_count == 4
    assert info.partition_ids == ["0", "1", "2", "3"]
    assert info.consumer_groups == (DEFAULT_CONSUMER_GROUP, "audit")
    assert store.hub("orders") == info  # names compare without case
    assert [h.name for h in store.hubs()] == ["Orders"]


def test_an_existing_hub_keeps_its_partitions_and_gains_groups(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 2)
    info = store.ensure_hub("orders", 8, ["Billing", "billing", "$Default"])
    assert info.partition_count == 2
    assert info.consumer_groups == ("$Default", "Billing")


@pytest.mark.parametrize("name", ["", "-bad", "bad-", "has space", "x" * 257, "a/b"])
def test_invalid_hub_names_are_refused(store: EventHubsStore, name: str) -> None:
    with pytest.raises(StoreError, match="not valid"):
        store.ensure_hub(name, 2)


@pytest.mark.parametrize("count", [0, 33, -1])
def test_partition_counts_are_1_to_32(store: EventHubsStore, count: int) -> None:
    with pytest.raises(StoreError, match="1 to 32"):
        store.ensure_hub("orders", count)


def test_sending_to_a_missing_hub_is_an_error(store: EventHubsStore) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        store.send("nowhere", [EventData(b"x")])


# -- sending and reading ---------------------------------------------------------------------------------------


def test_events_of_a_partition_get_ordered_sequence_numbers_and_growing_offsets(store: EventHubsStore,
                                                                                   clock: FakeClock) -> None:
    store.ensure_hub("orders", 2)
    sent = store.send("orders", [EventData(b"a", {"n": 1}), EventData(b"bb"), EventData(b"")], partition_id="1")
    assert [(e.partition, e.sequence_number) for e in sent] == [("1", 0), ("1", 1), ("1", 2)]
    offsets = [int(e.offset) for e in sent]
    assert offsets[0] == 0 and offsets == sorted(set(offsets))
    assert sent[0].enqueued_time.timestamp() == pytest.approx(clock.now)
    clock.advance(1)
    more = store.send("orders", [EventData(b"d")], partition_id="1")
    assert more[0].sequence_number == 3 and int(more[0].offset) > offsets[-1]
    read = store.read("orders", "1", 0, 10)
    assert _bodies(read) == [b"a", b"bb", b"", b"d"]
    assert read[0].properties == {"n": 1}
    assert read[0] == sent[0]
    assert store.read("orders", "0", 0, 10) == []


def test_read_starts_at_a_sequence_number_and_stops_at_max(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 1)
    store.send("orders", [EventData(str(n).encode()) for n in range(10)])
    assert _bodies(store.read("orders", "0", 4, 3)) == [b"4", b"5", b"6"]
    assert store.read("orders", "0", 10, 3) == []
    assert store.read("orders", "0", 0, 0) == []


def test_a_partition_key_goes_to_the_partition_event_hubs_hashes_it_to(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 4)
    sent = store.send("orders", [EventData(b"x", partition_key="7"), EventData(b"y", partition_key="131")])
    # The .NET client's own test vectors: "7" hashes to -15263, "131" to 30562.
    assert [e.partition for e in sent] == [str(15263 % 4), str(30562 % 4)]
    assert sent[0].partition_key == "7"
    again = store.send("orders", [EventData(b"z", partition_key="7")])
    assert again[0].partition == sent[0].partition and again[0].sequence_number == 1


def test_keyless_sends_go_round_robin_one_partition_per_send(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 3)
    partitions = [store.send("orders", [EventData(b"a"), EventData(b"b")])[0].partition for _ in range(6)]
    assert sorted(partitions[:3]) == ["0", "1", "2"] and partitions[3:] == partitions[:3]
    for p in "012":
        assert _bodies(store.read("orders", p, 0, 10)) == [b"a", b"b", b"a", b"b"]


def test_a_partition_id_and_a_key_together_are_refused(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 2)
    with pytest.raises(StoreError, match="partition key and a partition id"):
        store.send("orders", [EventData(b"x", partition_key="k")], partition_id="0")
    with pytest.raises(StoreError, match="no partition '2'"):
        store.send("orders", [EventData(b"x")], partition_id="2")
    with pytest.raises(StoreError, match="no partition"):
        store.read("orders", "01", 0, 1)
    assert store.partitions("orders")[0].is_empty  # nothing of a refused send is kept


def test_partition_info_reports_each_partitions_extent(store: EventHubsStore, clock: FakeClock) -> None:
    store.ensure_hub("orders", 2)
    empty = store.partitions("orders")
    assert [(p.partition, p.begin_sequence_number, p.last_sequence_number, p.last_offset) for p in empty] == [
        ("0", 0, -1, "-1"), ("1", 0, -1, "-1")]
    assert empty[0].is_empty and empty[0].last_enqueued_time is None
    sent = store.send("orders", [EventData(b"a"), EventData(b"b")], partition_id="0")
    info = store.partitions("orders")[0]
    assert (info.begin_sequence_number, info.last_sequence_number, info.last_offset) == (0, 1, sent[1].offset)
    assert info.last_enqueued_time == sent[1].enqueued_time


def test_events_older_than_the_retention_are_gone(store: EventHubsStore, clock: FakeClock) -> None:
    store.ensure_hub("logs", 1, retention=3600)
    store.send("logs", [EventData(b"old")])
    clock.advance(1800)
    store.send("logs", [EventData(b"new")])
    clock.advance(1801)  # the first is 3601 s old, the second 1801 s
    assert _bodies(store.read("logs", "0", 0, 10)) == [b"new"]
    info = store.partitions("logs")[0]
    assert (info.begin_sequence_number, info.last_sequence_number) == (1, 1)
    clock.advance(3600)
    assert store.read("logs", "0", 0, 10) == []
    assert store.partitions("logs")[0].is_empty
    assert store.send("logs", [EventData(b"next")])[0].sequence_number == 2  # numbering never restarts


def test_sequence_at_finds_the_first_event_after_a_time(store: EventHubsStore, clock: FakeClock) -> None:
    store.ensure_hub("orders", 1)
    start = clock.now
    store.send("orders", [EventData(b"a")])
    clock.advance(10)
    store.send("orders", [EventData(b"b")])
    assert store.sequence_at("orders", "0", start - 1) == 0
    assert store.sequence_at("orders", "0", start + 5) == 1
    assert store.sequence_at("orders", "0", start + 100) == 2  # none yet: the next one


def test_binary_bodies_and_unicode_keys_round_trip(store: EventHubsStore) -> None:
    store.ensure_hub("orders", 4)
    body = bytes(range(256))
    sent = store.send("orders", [EventData(body, {"ünï": "çødé", "n": 1.5, "ok": True}, partition_key="ключ")])
    read = store.read("orders", sent[0].partition, 0, 1)[0]
    assert read.body == body and read.partition_key == "ключ"
    assert read.properties == {"ünï": "çødé", "n": 1.5, "ok": True}
    assert read.partition == str(partition_for_key("ключ", 4))


# -- checkpoints and ownership ---------------------------------------------------------------------------------


def test_checkpoints_are_kept_per_consumer_group_and_partition(store: EventHubsStore, clock: FakeClock) -> None:
    store.ensure_hub("orders", 2, ["audit"])
    assert store.checkpoints("orders", "$Default") == {}
    store.set_checkpoint("orders", "$Default", "1", 5, "120")
    store.set_checkpoint("orders", "$default", "0", 2, "40")
    clock.advance(3)
    store.set_checkpoint("orders", "$Default", "1", 9, "300")
    store.set_checkpoint("orders", "audit", "1", 1, "20")
    found = store.checkpoints("ORDERS", "$Default")
    assert list(found) == ["0", "1"]
    assert (found["1"].sequence_number, found["1"].offset) == (9, "300")
    assert found["1"].updated.timestamp() == pytest.approx(clock.now)
    assert store.checkpoints("orders", "audit")["1"].sequence_number == 1


def test_ownership_is_claimed_renewed_expired_stolen_and_released(store: EventHubsStore, clock: FakeClock) -> None:
    store.ensure_hub("orders", 2)
    assert store.claim("orders", "$Default", "0", "a", 30)
    assert not store.claim("orders", "$Default", "0", "b", 30)
    assert store.claim("orders", "$Default", "0", "a", 30)  # a renewal
    clock.advance(29)
    assert not store.claim("orders", "$Default", "0", "b", 30)
    assert store.claim("orders", "$Default", "0", "b", 30, steal_from="a")  # load balancing takes it
    assert not store.claim("orders", "$Default", "0", "a", 30)
    clock.advance(31)
    records = store.ownership("orders", "$Default")
    assert [(o.partition, o.owner, o.expired) for o in records] == [("0", "b", True)]
    assert store.claim("orders", "$Default", "0", "a", 30)  # expired: anyone takes it
    store.release("orders", "$Default", "0", "b")  # not b's: nothing happens
    assert store.ownership("orders", "$Default")[0].owner == "a"
    store.release("orders", "$Default", "0", "a")
    assert store.ownership("orders", "$Default") == []
    assert store.claim("orders", "audit", "0", "c", 30)  # another group is another set of records
    assert store.claim("orders", "$Default", "0", "d", 30)


def test_threads_racing_for_a_partition_exactly_one_owns_it(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    stores[0].ensure_hub("orders", 32)

    def contend(index: int) -> list[bool]:
        store = stores[index % len(stores)]
        return [store.claim("orders", "$Default", str(p), f"owner-{index}", 30) for p in range(32)]

    results = race_threads(6, contend)
    for p in range(32):
        assert sum(1 for won in results if won[p]) == 1, f"partition {p}"


def test_concurrent_senders_get_gap_free_sequence_numbers(backend: Backend) -> None:
    stores = [backend.open() for _ in range(3)] if backend.persistent else [backend.open()]
    stores[0].ensure_hub("orders", 1)

    def send(index: int) -> list[int]:
        store = stores[index % len(stores)]
        return [store.send("orders", [EventData(f"{index}-{n}".encode())])[0].sequence_number for n in range(40)]

    numbers = sorted(n for chunk in race_threads(6, send) for n in chunk)
    assert numbers == list(range(240))
    read = stores[0].read("orders", "0", 0, 1000)
    assert [e.sequence_number for e in read] == list(range(240))
    by_sender: dict[str, list[int]] = {}
    for event in read:
        sender, n = event.body.decode().split("-")
        by_sender.setdefault(sender, []).append(int(n))
    assert all(ns == sorted(ns) for ns in by_sender.values())  # each sender's order is kept


def test_processes_sending_at_once_get_gap_free_sequence_numbers(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    store = backend.open()
    store.ensure_hub("orders", 2)
    body = ("from overcast.backends.eventhubs_store import EventData\n"
            "result = [store.send('orders', [EventData(b'x')], partition_id='1')[0].sequence_number "
            "for _ in range(50)]\n")
    results = race_processes(backend.child_setup, body, children=3)
    assert sorted(n for r in results for n in r) == list(range(150))


def test_a_reopened_store_sees_hubs_events_and_checkpoints(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store keeps its data in the object")
    first = backend.open()
    first.ensure_hub("orders", 2)
    first.send("orders", [EventData(b"kept", partition_key="k")])
    first.set_checkpoint("orders", "$Default", "0", 0, "0")
    first.close()
    second = backend.open()
    assert second.hub("orders") is not None
    assert sum(len(second.read("orders", p, 0, 10)) for p in "01") == 1
    assert second.checkpoints("orders", "$Default")["0"].sequence_number == 0


def test_a_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.hubs()


# -- the partition key hash -----------------------------------------------------------------------------------

# The .NET client's test vectors (sdk/eventhub/Azure.Messaging.EventHubs/tests/Core/PartitionResolverTests.cs):
# the service hashes keys the same way.
HASHES = [
    ("7", -15263), ("131", 30562), ("7149583486996073602", 12977), ("FWfAT", -22341),
    ("sOdeEAsyQoEuEFPGerWO", -6503),
    ("FAyAIctPeCgmiwLKbJcyswoHglHVjQdvtBowLACDNORsYvOcLddNJYDmhAVkbyLOrHTKLneMNcbgWVlasVywOByANjs", 5226),
    ("!c*_!I@1^c", 15372), ("p4*!jioeO/z-!-;w:dh", -3104), ("$0cb", 26269), ("-4189260826195535198", 453),
]


@pytest.mark.parametrize(("key", "expected"), HASHES)
def test_partition_keys_hash_as_event_hubs_does(key: str, expected: int) -> None:
    assert partition_hash(key) == expected
    assert partition_for_key(key, 32) == abs(expected) % 32
