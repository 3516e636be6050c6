"""The change feed's lease documents on the in-memory documents store, with a clock the tests move."""

from __future__ import annotations

import pytest

from overcast.backends.memory.documents import MemoryDocumentStore
from overcast.errors import DocumentNotFound
from overcast.triggers.cosmos_leases import LeaseManager, LeaseOptions

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryDocumentStore:
    opened = MemoryDocumentStore(clock)
    opened.create_container("db", "items", "/pk", feed_ranges=4)
    return opened


def options(**changes: object) -> LeaseOptions:
    base: dict[str, object] = {"database": "db", "container": "items", "lease_database": "db",
                               "create_lease_container": True, "expiration": 10.0, "renew": 3.0}
    base.update(changes)
    return LeaseOptions(**base)  # type: ignore[arg-type]


def manager(store: MemoryDocumentStore, clock: Clock, owner: str, **changes: object) -> LeaseManager:
    created = LeaseManager(store, options(**changes), owner, clock)
    created.prepare()
    return created


def test_a_missing_lease_container_is_azures_listener_error(store: MemoryDocumentStore, clock: Clock) -> None:
    with pytest.raises(DocumentNotFound, match=r"Either the source container 'items' \(in database 'db'\) or the "
                                               r"lease container 'leases' .* 'CreateLeaseContainerIfNotExists'"):
        LeaseManager(store, options(create_lease_container=False), "a", clock).prepare()
    with pytest.raises(DocumentNotFound, match="source container 'nope'"):
        LeaseManager(store, options(container="nope"), "a", clock).prepare()
    manager(store, clock, "a")
    info = store.get_container("db", "leases")
    assert info is not None and info.partition_key_path == "/id"


@pytest.mark.parametrize(("start", "expected"), [
    ({}, []),
    ({"start_from_beginning": True}, ["old", "new"]),
    ({"start_from_time": START + 30}, ["new"]),
])
def test_where_new_leases_start(store: MemoryDocumentStore, clock: Clock, start: dict[str, object],
                                expected: list[str]) -> None:
    store.write("db", "items", {"id": "old", "pk": "x"})
    clock.now += 60
    store.write("db", "items", {"id": "new", "pk": "x"})
    leases = manager(store, clock, "a", **start).balance()
    found = [c.document["id"] for lease in leases.values()
             for c in store.read_feed("db", "items", lease.feed_range, lease.continuation)]
    assert found == expected


def test_the_start_options_apply_only_when_no_lease_exists(store: MemoryDocumentStore, clock: Clock) -> None:
    first = manager(store, clock, "a")
    first.balance()
    store.write("db", "items", {"id": "later", "pk": "x"})
    first.release()
    again = manager(store, clock, "b", start_from_beginning=True)
    pending = [c.document["id"] for lease in again.balance().values()
               for c in store.read_feed("db", "items", lease.feed_range, lease.continuation)]
    assert pending == ["later"]


def test_two_prefixes_keep_separate_leases(store: MemoryDocumentStore, clock: Clock) -> None:
    one = manager(store, clock, "a", prefix="one-")
    two = manager(store, clock, "a", prefix="two-")
    assert len(one.balance()) == 4 and len(two.balance()) == 4
    assert {lease.id for lease in one.leases()}.isdisjoint(lease.id for lease in two.leases())


def test_instances_balance_by_asking_and_handing_over(store: MemoryDocumentStore, clock: Clock) -> None:
    a, b = manager(store, clock, "a"), manager(store, clock, "b")
    held_a = a.balance()
    assert sorted(held_a) == [0, 1, 2, 3]
    assert b.balance() == {}  # b asks for one of a's leases: nothing moves until a hands it over
    asked = [lease for lease in a.leases() if lease.requested_by == "b"]
    assert len(asked) == 1
    held_a = a.balance()  # a's renewals keep the request
    requested = next(lease for lease in held_a.values() if lease.requested_by == "b")
    assert a.hand_over(requested) is True
    assert sorted(b.balance()) == [requested.feed_range]
    for _ in range(3):
        clock.now += 1
        held_a, held_b = a.balance(), b.balance()
        for lease in list(held_a.values()):
            a.hand_over(lease)
    held_a, held_b = a.balance(), b.balance()
    assert len(held_a) == 2 and len(held_b) == 2 and set(held_a).isdisjoint(held_b)


def test_an_expired_lease_is_taken_over_and_its_old_owner_cannot_checkpoint(store: MemoryDocumentStore,
                                                                            clock: Clock) -> None:
    dead, alive = manager(store, clock, "dead"), manager(store, clock, "alive")
    held = dead.balance()
    store.write("db", "items", {"id": "i", "pk": "p"})
    clock.now += 11  # past the expiration without a renewal
    taken = alive.balance()
    assert sorted(taken) == [0, 1, 2, 3]
    lease = held[0]
    assert dead.checkpoint(lease, 99) is None
    assert dead.renew(lease) is None
    assert all(lease.continuation == 0 for lease in alive.leases())


def test_a_renewal_keeps_the_lease_and_a_checkpoint_moves_it(store: MemoryDocumentStore, clock: Clock) -> None:
    a, b = manager(store, clock, "a"), manager(store, clock, "b")
    held = a.balance()
    for _ in range(5):
        clock.now += 4
        held = {r: a.renew(lease) for r, lease in held.items()}  # type: ignore[misc]
        assert all(lease is not None for lease in held.values())
    assert b.balance() == {} and all(lease.owner == "a" for lease in a.leases())
    moved = a.checkpoint(held[0], 7)
    assert moved is not None and moved.continuation == 7
    assert next(lease for lease in a.leases() if lease.feed_range == 0).continuation == 7


def test_a_clean_release_frees_the_leases_with_their_positions(store: MemoryDocumentStore, clock: Clock) -> None:
    a = manager(store, clock, "a")
    held = a.balance()
    held[2] = a.checkpoint(held[2], 5)  # type: ignore[assignment]
    a.release()
    assert all(lease.owner is None for lease in a.leases())
    taken = manager(store, clock, "b").balance()
    assert sorted(taken) == [0, 1, 2, 3] and taken[2].continuation == 5


def test_a_release_frees_a_lease_renewed_late_and_withdraws_a_request(store: MemoryDocumentStore,
                                                                       clock: Clock) -> None:
    a, b = manager(store, clock, "a"), manager(store, clock, "b")
    assert sorted(a.balance()) == [0, 1, 2, 3]
    assert b.balance() == {}  # b asks a for one lease
    assert sum(lease.requested_by == "b" for lease in a.leases()) == 1
    clock.now += 11  # a's renewals came late: its leases are expired in the store, still under its name
    assert all(lease.owner == "a" for lease in a.leases())
    b.release()
    assert all(lease.requested_by is None and lease.owner == "a" for lease in a.leases())
    a.release()
    assert all(lease.owner is None for lease in a.leases())
