"""The LeaseStore contract (singleton locks shared by instances), run against every backend.

Time is a FakeClock: tests move it instead of sleeping. To add a backend (PostgreSQL, Azure Storage, ...), add a
line to ``BACKEND_CASES`` in conftest.py; every test above the "SQLite
specifics" section then runs against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from overcast.backends import LeaseStore, open_lease_store
from overcast.backends.sqlite.leases import SqliteLeaseStore
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

Backend = store_helpers.Backend[LeaseStore]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(
        storage.name, lambda: storage.backend().open_leases(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_leases"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> LeaseStore:
    return backend.open()


# -- acquire, renew, expire --------------------------------------------------------------------------------------


def test_a_free_lease_is_acquired(store: LeaseStore) -> None:
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-a", 30) is True
    assert store.holder("timer") == "instance-a"


def test_another_owner_cannot_take_a_held_lease(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 30)
    assert store.acquire("timer", "instance-b", 30) is False
    clock.advance(29.9)
    assert store.acquire("timer", "instance-b", 600) is False
    assert store.holder("timer") == "instance-a"  # a failed acquire changes nothing


def test_leases_are_independent_by_name(store: LeaseStore) -> None:
    assert store.acquire("timer-1", "instance-a", 30)
    assert store.acquire("timer-2", "instance-b", 30)
    assert store.acquire("Timer-1", "instance-b", 30)  # names are case-sensitive
    assert store.holder("timer-1") == "instance-a"
    assert store.holder("timer-2") == "instance-b"
    assert store.holder("Timer-1") == "instance-b"
    assert store.holder("timer-3") is None


def test_owners_are_compared_exactly(store: LeaseStore) -> None:
    assert store.acquire("timer", "instance-a", 30)
    assert store.acquire("timer", "Instance-A", 30) is False
    assert store.acquire("timer", "instance-a ", 30) is False


def test_the_owner_renews_and_the_expiry_moves(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 30)
    clock.advance(20)
    assert store.acquire("timer", "instance-a", 30) is True  # now held until 50 s after the start
    clock.advance(20)
    assert store.holder("timer") == "instance-a"
    assert store.acquire("timer", "instance-b", 30) is False
    clock.advance(9.9)
    assert store.holder("timer") == "instance-a"
    clock.advance(0.2)
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-b", 30) is True


def test_a_renewal_sets_the_expiry_from_now_even_when_shorter(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 600)
    assert store.acquire("timer", "instance-a", 10)
    clock.advance(10.1)
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-b", 10) is True


def test_an_expired_lease_goes_to_another_owner(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 15)
    clock.advance(14.9)
    assert store.holder("timer") == "instance-a"
    clock.advance(0.2)
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-b", 15) is True
    assert store.holder("timer") == "instance-b"
    assert store.acquire("timer", "instance-a", 15) is False  # the old owner lost it


def test_the_owner_of_an_expired_lease_may_take_it_again(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 15)
    clock.advance(100)
    assert store.acquire("timer", "instance-a", 15) is True
    assert store.holder("timer") == "instance-a"
    assert store.acquire("timer", "instance-b", 15) is False


def test_fractional_durations(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 0.5)
    clock.advance(0.4)
    assert store.holder("timer") == "instance-a"
    clock.advance(0.2)
    assert store.holder("timer") is None


# -- release -----------------------------------------------------------------------------------------------------


def test_release_by_the_owner_frees_the_lease(store: LeaseStore) -> None:
    assert store.acquire("timer", "instance-a", 600)
    store.release("timer", "instance-a")
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-b", 600) is True
    assert store.holder("timer") == "instance-b"


def test_release_by_anyone_else_does_nothing(store: LeaseStore) -> None:
    assert store.acquire("timer", "instance-a", 600)
    store.release("timer", "instance-b")
    store.release("timer", "INSTANCE-A")
    store.release("other-lease", "instance-a")
    assert store.holder("timer") == "instance-a"
    assert store.acquire("timer", "instance-b", 600) is False


def test_releasing_a_free_lease_is_harmless(store: LeaseStore) -> None:
    store.release("never-taken", "instance-a")
    assert store.acquire("timer", "instance-a", 600)
    store.release("timer", "instance-a")
    store.release("timer", "instance-a")  # twice
    assert store.holder("timer") is None
    assert store.holder("never-taken") is None


def test_the_previous_owner_cannot_release_its_successor(store: LeaseStore, clock: FakeClock) -> None:
    """An instance that stalled past its lease must not free the lease another instance took over since."""
    assert store.acquire("timer", "instance-a", 15)
    clock.advance(16)
    assert store.acquire("timer", "instance-b", 15)
    store.release("timer", "instance-a")
    assert store.holder("timer") == "instance-b"


def test_release_of_an_expired_lease_leaves_it_free(store: LeaseStore, clock: FakeClock) -> None:
    assert store.acquire("timer", "instance-a", 15)
    clock.advance(16)
    store.release("timer", "instance-a")
    assert store.holder("timer") is None
    assert store.acquire("timer", "instance-b", 15) is True


# -- validation and lifecycle ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "owner", "duration", "problem"),
    [
        ("", "instance-a", 30, "non-empty name and owner"),
        ("timer", "", 30, "non-empty name and owner"),
        ("timer", "instance-a", 0, "duration must be positive (got 0 s)"),
        ("timer", "instance-a", -5, "duration must be positive (got -5 s)"),
        ("timer", "instance-a", float("nan"), "duration must be positive (got nan s)"),
        ("lone \ud800", "instance-a", 30, "not valid Unicode"),
        ("timer", "lone \udfff", 30, "not valid Unicode"),
    ],
    ids=["empty-name", "empty-owner", "zero", "negative", "nan", "name-surrogate", "owner-surrogate"],
)
def test_bad_arguments_are_refused(store: LeaseStore, name: str, owner: str, duration: float, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        store.acquire(name, owner, duration)
    assert problem in str(caught.value)
    assert store.holder("timer") is None


@pytest.mark.parametrize("call", ["holder", "release-name", "release-owner"])
def test_names_that_cannot_be_text_are_refused_everywhere(store: LeaseStore, call: str) -> None:
    with pytest.raises(StoreError, match="not valid Unicode"):
        if call == "holder":
            store.holder("lone \ud800")
        elif call == "release-name":
            store.release("lone \ud800", "instance-a")
        else:
            store.release("timer", "lone \ud800")


def test_unicode_names_and_owners(store: LeaseStore) -> None:
    assert store.acquire("tïmer/😀 #1", "host-é:1234/worker 7", 30)
    assert store.holder("tïmer/😀 #1") == "host-é:1234/worker 7"
    store.release("tïmer/😀 #1", "host-é:1234/worker 7")
    assert store.holder("tïmer/😀 #1") is None


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    assert store.acquire("timer", "instance-a", 30)
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.acquire("timer", "instance-a", 30),
        lambda: store.release("timer", "instance-a"),
        lambda: store.holder("timer"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="closed"):
            call()
    store.close()  # closing twice is harmless


def test_leases_survive_reopening(backend: Backend, clock: FakeClock) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store does not persist")
    first = backend.open()
    assert first.acquire("timer", "instance-a", 30)
    first.close()
    second = backend.open()
    assert second.holder("timer") == "instance-a"
    assert second.acquire("timer", "instance-b", 30) is False
    clock.advance(31)
    assert second.acquire("timer", "instance-b", 30) is True


# -- concurrency -------------------------------------------------------------------------------------------------


def test_threads_racing_for_a_lease_exactly_one_wins(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    rounds = 40

    def contend(index: int) -> list[bool]:
        store = stores[index % len(stores)]
        return [store.acquire(f"singleton-{r}", f"owner-{index}", 600) for r in range(rounds)]

    results = race_threads(8, contend)
    for r in range(rounds):
        winners = [index for index, won in enumerate(results) if won[r]]
        assert len(winners) == 1, f"lease singleton-{r} won by {winners}"
        assert stores[0].holder(f"singleton-{r}") == f"owner-{winners[0]}"


def test_threads_racing_for_an_expired_lease_exactly_one_takes_it_over(backend: Backend, clock: FakeClock) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    rounds = 40
    for r in range(rounds):
        assert stores[0].acquire(f"stale-{r}", "crashed-instance", 10)
    clock.advance(11)

    def contend(index: int) -> list[bool]:
        store = stores[index % len(stores)]
        return [store.acquire(f"stale-{r}", f"owner-{index}", 600) for r in range(rounds)]

    results = race_threads(8, contend)
    for r in range(rounds):
        winners = [index for index, won in enumerate(results) if won[r]]
        assert len(winners) == 1, f"lease stale-{r} taken over by {winners}"
        assert stores[0].holder(f"stale-{r}") == f"owner-{winners[0]}"


def test_processes_racing_for_a_lease_exactly_one_wins(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    rounds = 100
    body = f"result = [store.acquire(f'singleton-{{r}}', f'process-{{sys.argv[1]}}', 600) for r in range({rounds})]\n"
    # The parent creates the database first: processes that create a fresh SQLite database at the same moment can
    # fail to switch it to WAL ("database is locked"), which is an open-time problem, not the race tested here.
    store = backend.open()
    results = race_processes(backend.child_setup, body, children=3)
    for r in range(rounds):
        winners = [index for index, won in enumerate(results) if won[r]]
        assert len(winners) == 1, f"lease singleton-{r} won by {winners}"
        # The children ran on the real clock, years after the fake one: their leases are unexpired here.
        assert store.holder(f"singleton-{r}") == f"process-{winners[0]}"


# -- SQLite specifics --------------------------------------------------------------------------------------------


def test_open_lease_store_uses_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_lease_store(data_dir)
    try:
        assert store.acquire("timer", "instance-a", 30)
        assert store.holder("timer") == "instance-a"
    finally:
        store.close()
    assert (data_dir / "overcast.db").is_file()


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteLeaseStore(bad)
    assert str(bad) in str(caught.value)
    assert "lease store" in str(caught.value)
