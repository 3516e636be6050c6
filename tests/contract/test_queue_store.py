"""The QueueStore + QueueAdmin contract (Azure Storage queue semantics), run against every backend.

Time is a FakeClock: tests move it instead of sleeping. To add a backend (PostgreSQL, ...), add a line to
``BACKEND_CASES`` in conftest.py; every test below then runs against it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from overcast.backends import QueueBackend, open_queue_store
from overcast.backends.base import QueuedMessage
from overcast.backends.sqlite.queues import SqliteQueueStore
from overcast.errors import PayloadTooLargeError, StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

SEVEN_DAYS = timedelta(days=7)


Backend = store_helpers.Backend[QueueBackend]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(
        storage.name, lambda: storage.backend().open_queues(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_queues"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> QueueBackend:
    return backend.open()


def bodies(messages: list[QueuedMessage]) -> list[bytes]:
    return [m.body for m in messages]


def at(clock: FakeClock, offset: float = 0.0) -> datetime:
    return datetime.fromtimestamp(clock.now + offset, timezone.utc)


# -- enqueue and receive -----------------------------------------------------------------------------------------


def test_enqueue_returns_the_stored_message(store: QueueBackend, clock: FakeClock) -> None:
    message = store.enqueue("orders", b"hello")
    assert message.body == b"hello"
    assert message.dequeue_count == 0
    assert message.insertion_time == at(clock)
    assert message.insertion_time.tzinfo == timezone.utc
    assert message.next_visible == at(clock)
    assert message.expiration_time == at(clock) + SEVEN_DAYS
    assert message.id and message.pop_receipt
    assert store.enqueue("orders", b"x").id != message.id


def test_receive_is_fifo_and_claims_at_most_max_messages(store: QueueBackend) -> None:
    for i in range(10):
        store.enqueue("orders", f"m{i}".encode())
    assert bodies(store.receive("orders", 4, 30)) == [b"m0", b"m1", b"m2", b"m3"]
    assert bodies(store.receive("orders", 32, 30)) == [f"m{i}".encode() for i in range(4, 10)]
    assert store.receive("orders", 32, 30) == []


def test_received_message_has_count_receipt_and_visibility(store: QueueBackend, clock: FakeClock) -> None:
    sent = store.enqueue("orders", b"x")
    clock.advance(5)
    [got] = store.receive("orders", 1, 30)
    assert got.id == sent.id
    assert got.dequeue_count == 1
    assert got.pop_receipt and got.pop_receipt != sent.pop_receipt
    assert got.next_visible == at(clock, 30)
    assert got.insertion_time == sent.insertion_time
    assert got.expiration_time == sent.expiration_time


def test_visibility_timeout_hides_the_message_until_the_clock_passes_it(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"x")
    [first] = store.receive("orders", 1, 30)
    assert store.receive("orders", 1, 30) == []
    clock.advance(29.9)
    assert store.receive("orders", 1, 30) == []
    assert store.peek("orders", 1) == []
    clock.advance(0.2)
    [again] = store.receive("orders", 1, 30)
    assert again.id == first.id
    assert again.dequeue_count == 2
    assert again.pop_receipt != first.pop_receipt


def test_dequeue_count_increments_on_every_receive(store: QueueBackend) -> None:
    store.enqueue("orders", b"x")
    counts = []
    for _ in range(5):
        [message] = store.receive("orders", 1, 0)  # visibility 0: visible again at once
        counts.append(message.dequeue_count)
    assert counts == [1, 2, 3, 4, 5]


def test_a_delayed_message_appears_after_its_delay(store: QueueBackend, clock: FakeClock) -> None:
    late = store.enqueue("orders", b"late", delay=10)
    assert late.next_visible == at(clock, 10)
    clock.advance(5)
    store.enqueue("orders", b"early")
    assert bodies(store.peek("orders", 32)) == [b"early"]
    clock.advance(5)
    assert bodies(store.receive("orders", 32, 30)) == [b"early", b"late"]


def test_messages_come_in_the_order_they_became_visible(store: QueueBackend, clock: FakeClock) -> None:
    """A failed message made visible again queues behind the ones already waiting (as in Azure)."""
    store.enqueue("orders", b"a")
    store.enqueue("orders", b"b")
    [a] = store.receive("orders", 1, 30)
    clock.advance(1)
    assert a.pop_receipt is not None
    store.update_visibility("orders", a.id, a.pop_receipt, 0)
    store.enqueue("orders", b"c")
    assert bodies(store.receive("orders", 32, 30)) == [b"b", b"a", b"c"]


def test_receive_from_a_missing_queue_is_empty(store: QueueBackend) -> None:
    assert store.receive("nothing-here", 32, 30) == []
    assert store.peek("nothing-here", 32) == []
    assert "nothing-here" not in store.list_queues()


@pytest.mark.parametrize(("size", "accepted"), [(65_535, True), (65_536, True), (65_537, False), (2_000_000, False)])
def test_a_message_over_64_kib_is_refused_as_azure_refuses_it(store: QueueBackend, size: int, accepted: bool) -> None:
    body = b"A" * size
    if accepted:
        store.enqueue("sized", body)
        assert bodies(store.receive("sized", 1, 30)) == [body]
        return
    with pytest.raises(PayloadTooLargeError, match=r"RequestBodyTooLarge.*'sized' is [\d,]+ bytes.*blob"):
        store.enqueue("sized", body)
    assert store.receive("sized", 1, 30) == []


def test_binary_bodies_round_trip(store: QueueBackend) -> None:
    every_byte = bytes(range(256))
    store.enqueue("bin", every_byte)
    store.enqueue("bin", b"")
    store.enqueue("bin", b"\x00" * 65_536)
    assert bodies(store.peek("bin", 32)) == [every_byte, b"", b"\x00" * 65_536]
    got = store.receive("bin", 32, 30)
    assert bodies(got) == [every_byte, b"", b"\x00" * 65_536]
    assert got[0].pop_receipt is not None
    assert store.move("bin", got[0].id, got[0].pop_receipt, "bin-poison")
    assert bodies(store.receive("bin-poison", 1, 30)) == [every_byte]
    assert all(type(m.body) is bytes for m in got)


# -- delete, update, move ----------------------------------------------------------------------------------------


def test_delete_with_the_current_receipt(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"x")
    [message] = store.receive("orders", 1, 30)
    assert message.pop_receipt is not None
    assert store.delete("orders", message.id, message.pop_receipt) is True
    assert store.delete("orders", message.id, message.pop_receipt) is False
    clock.advance(60)
    assert store.receive("orders", 1, 30) == []


def test_delete_many_deletes_the_claimed_and_reports_the_stale(store: QueueBackend, clock: FakeClock) -> None:
    for n in range(4):
        store.enqueue("many", b"%d" % n)
    first, second, third, fourth = store.receive("many", 4, 30)
    assert first.pop_receipt and second.pop_receipt and third.pop_receipt and fourth.pop_receipt
    assert store.delete_many("many", []) == []
    claimed = [(first.id, first.pop_receipt), (second.id, "stale"), ("missing", "x"), (third.id, third.pop_receipt)]
    assert store.delete_many("many", claimed) == [True, False, False, True]
    clock.advance(31)
    assert bodies(store.receive("many", 32, 30)) == [b"1", b"3"]  # the stale one and the one never settled


def test_the_receipt_from_enqueue_works_until_the_message_is_received(store: QueueBackend) -> None:
    first = store.enqueue("orders", b"1")
    second = store.enqueue("orders", b"2")
    assert first.pop_receipt is not None and second.pop_receipt is not None
    assert store.delete("orders", first.id, first.pop_receipt) is True
    store.receive("orders", 1, 30)
    assert store.delete("orders", second.id, second.pop_receipt) is False


def test_stale_receipts_are_rejected(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"x")
    [old] = store.receive("orders", 1, 10)
    clock.advance(11)
    [new] = store.receive("orders", 1, 10)  # another consumer took it after the timeout
    assert old.pop_receipt is not None and new.pop_receipt is not None
    assert store.delete("orders", old.id, old.pop_receipt) is False
    assert store.update_visibility("orders", old.id, old.pop_receipt, 0) is None
    assert store.move("orders", old.id, old.pop_receipt, "orders-poison") is False
    assert store.list_queues() == {"orders": 1}
    assert store.delete("orders", new.id, "made-up") is False
    assert store.delete("orders", "no-such-id", new.pop_receipt) is False
    assert store.delete("other", new.id, new.pop_receipt) is False
    assert store.delete("orders", new.id, new.pop_receipt) is True


def test_update_visibility_zero_makes_the_message_visible_at_once(store: QueueBackend) -> None:
    store.enqueue("orders", b"x")
    [message] = store.receive("orders", 1, 600)
    assert message.pop_receipt is not None
    receipt = store.update_visibility("orders", message.id, message.pop_receipt, 0)
    assert receipt is not None and receipt != message.pop_receipt
    assert store.delete("orders", message.id, message.pop_receipt) is False  # the old receipt is stale now
    [again] = store.receive("orders", 1, 600)
    assert again.id == message.id
    assert again.dequeue_count == 2  # an update does not count; the next receive does


def test_update_visibility_extends_the_lease(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"x")
    [message] = store.receive("orders", 1, 10)
    assert message.pop_receipt is not None
    clock.advance(5)
    receipt = store.update_visibility("orders", message.id, message.pop_receipt, 20)
    assert receipt is not None
    clock.advance(19.9)
    assert store.receive("orders", 1, 10) == []
    assert store.delete("orders", message.id, receipt) is True


def test_move_copies_to_poison_with_a_fresh_message(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"bad one")
    for _ in range(3):
        [message] = store.receive("orders", 1, 0)
    assert message.dequeue_count == 3 and message.pop_receipt is not None
    clock.advance(1)
    assert store.move("orders", message.id, message.pop_receipt, "orders-poison") is True
    assert store.list_queues() == {"orders": 0, "orders-poison": 1}
    clock.advance(3600)
    assert store.receive("orders", 32, 30) == []
    [poison] = store.peek("orders-poison", 32)
    assert poison.body == b"bad one"
    assert poison.dequeue_count == 0
    assert poison.id != message.id
    assert poison.insertion_time == at(clock, -3600)
    assert poison.expiration_time == poison.insertion_time + SEVEN_DAYS
    assert store.move("orders", message.id, message.pop_receipt, "orders-poison") is False
    assert store.list_queues()["orders-poison"] == 1


def test_move_is_atomic_when_settlements_race(backend: Backend) -> None:
    """Threads (with their own handles where the backend has them) settle the same message at once: exactly one
    settlement wins, and the poison queue never holds two copies."""
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    for round_ in range(20):
        queue = f"race-{round_}"
        stores[0].enqueue(queue, b"x")
        [message] = stores[0].receive(queue, 1, 600)
        receipt = message.pop_receipt
        assert receipt is not None

        def settle(index: int, queue: str = queue, message_id: str = message.id, receipt: str = receipt) -> bool:
            store = stores[index % len(stores)]
            if index % 2:
                return store.delete(queue, message_id, receipt)
            return store.move(queue, message_id, receipt, f"{queue}-poison")

        results = race_threads(4, settle)
        assert results.count(True) == 1
        counts = stores[0].list_queues()
        assert counts[queue] == 0
        moved = not results.index(True) % 2
        assert counts.get(f"{queue}-poison", 0) == (1 if moved else 0)


# -- expiry ------------------------------------------------------------------------------------------------------


def test_expired_messages_are_never_returned(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"short", ttl=60)
    store.enqueue("orders", b"default")
    clock.advance(59)
    assert bodies(store.peek("orders", 32)) == [b"short", b"default"]
    clock.advance(2)
    assert bodies(store.peek("orders", 32)) == [b"default"]
    assert store.list_queues() == {"orders": 1}
    assert bodies(store.receive("orders", 32, 30)) == [b"default"]
    clock.advance(SEVEN_DAYS.total_seconds())
    assert store.receive("orders", 32, 30) == []
    assert store.list_queues() == {"orders": 0}


def test_a_message_that_expires_while_claimed_is_gone(store: QueueBackend, clock: FakeClock) -> None:
    store.enqueue("orders", b"x", ttl=60)
    [message] = store.receive("orders", 1, 120)
    assert message.pop_receipt is not None
    clock.advance(61)
    assert store.update_visibility("orders", message.id, message.pop_receipt, 0) is None
    assert store.move("orders", message.id, message.pop_receipt, "orders-poison") is False
    assert store.delete("orders", message.id, message.pop_receipt) is False
    clock.advance(60)
    assert store.receive("orders", 1, 30) == []
    assert store.list_queues() == {"orders": 0}


def test_ttl_minus_one_never_expires(store: QueueBackend, clock: FakeClock) -> None:
    message = store.enqueue("orders", b"forever", ttl=-1)
    assert message.expiration_time == datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    clock.advance(10 * 365 * 24 * 3600)
    assert bodies(store.receive("orders", 1, 30)) == [b"forever"]


# -- admin -------------------------------------------------------------------------------------------------------


def test_peek_does_not_claim(store: QueueBackend) -> None:
    store.enqueue("orders", b"a")
    store.enqueue("orders", b"b")
    peeked = store.peek("orders", 1)
    assert bodies(peeked) == [b"a"]
    assert peeked[0].pop_receipt is None
    assert peeked[0].dequeue_count == 0
    assert bodies(store.peek("orders", 32)) == [b"a", b"b"]
    [received] = store.receive("orders", 1, 30)
    assert received.id == peeked[0].id and received.dequeue_count == 1
    assert bodies(store.peek("orders", 32)) == [b"b"]  # a claimed message is not visible


def test_list_queues_clear_and_delete_queue(store: QueueBackend) -> None:
    for i in range(3):
        store.enqueue("alpha", f"{i}".encode())
    store.enqueue("beta", b"1")
    store.enqueue("beta", b"2")
    store.receive("alpha", 1, 30)  # claimed messages still count
    assert store.list_queues() == {"alpha": 3, "beta": 2}
    assert store.clear("alpha") == 3
    assert store.list_queues() == {"alpha": 0, "beta": 2}  # the queue stays, empty
    assert store.receive("alpha", 32, 0) == []
    assert store.clear("alpha") == 0
    assert store.clear("missing") == 0
    assert "missing" not in store.list_queues()
    assert store.delete_queue("beta") is True
    assert store.delete_queue("beta") is False
    assert store.list_queues() == {"alpha": 0}
    store.enqueue("beta", b"again")
    assert store.list_queues() == {"alpha": 0, "beta": 1}


# -- validation --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ab", "2 characters"),
        ("a" * 64, "64 characters"),
        ("Orders", "upper-case"),
        ("my_queue", "'_'"),
        ("-orders", "hyphen"),
        ("orders-", "hyphen"),
        ("my--queue", "two hyphens"),
        ("", "0 characters"),
    ],
)
def test_invalid_queue_names_are_rejected(store: QueueBackend, name: str, reason: str) -> None:
    with pytest.raises(StoreError, match="use 3-63 lower-case letters, digits and hyphens") as caught:
        store.enqueue(name, b"x")
    assert f"Queue name '{name}' is invalid" in str(caught.value)
    assert reason in str(caught.value)
    with pytest.raises(StoreError):
        store.receive(name, 1, 30)
    assert store.list_queues() == {}


def test_valid_queue_names_at_the_limits(store: QueueBackend) -> None:
    for name in ("abc", "a" * 63, "0-9", "q-1-2-3"):
        store.enqueue(name, b"x")
    assert set(store.list_queues()) == {"abc", "a" * 63, "0-9", "q-1-2-3"}


def test_invalid_arguments_are_rejected(store: QueueBackend) -> None:
    store.enqueue("orders", b"x")
    for bad in (0, 33, -1):
        with pytest.raises(StoreError, match="1-32"):
            store.receive("orders", bad, 30)
    with pytest.raises(StoreError, match="negative"):
        store.receive("orders", 1, -1)
    with pytest.raises(StoreError, match="time-to-live"):
        store.enqueue("orders", b"x", ttl=0)
    with pytest.raises(StoreError, match="negative"):
        store.enqueue("orders", b"x", delay=-1)
    with pytest.raises(StoreError, match="shorter"):
        store.enqueue("orders", b"x", delay=60, ttl=30)
    with pytest.raises(StoreError):
        store.peek("orders", 0)
    assert store.list_queues() == {"orders": 1}


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    store.enqueue("orders", b"x")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.receive("orders", 1, 30)
    store.close()  # closing twice is harmless


def test_data_survives_reopening(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store does not persist")
    first = backend.open()
    sent = first.enqueue("orders", bytes(range(256)))
    first.close()
    [got] = backend.open().receive("orders", 1, 30)
    assert got.id == sent.id and got.body == bytes(range(256))


# -- concurrency -------------------------------------------------------------------------------------------------


def _drain(store: QueueBackend, queue: str, seed: int) -> list[str]:
    """Receive and delete until the queue is empty; the ids this consumer got."""
    rng = random.Random(seed)
    got: list[str] = []
    while batch := store.receive(queue, rng.randint(1, 32), 600):
        for message in batch:
            got.append(message.id)
            assert message.pop_receipt is not None
            assert store.delete(queue, message.id, message.pop_receipt)
    return got


def test_threads_receiving_at_once_never_share_a_message(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    sent = {stores[0].enqueue("work", f"{i}".encode()).id for i in range(600)}
    results = race_threads(4, lambda i: _drain(stores[i % len(stores)], "work", i))
    received = [mid for ids in results for mid in ids]
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert set(received) == sent
    assert stores[0].list_queues() == {"work": 0}


def test_processes_receiving_at_once_never_share_a_message(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    store = backend.open()
    # The children run on the real clock, years after the fake one: messages that never expire stay receivable.
    sent = {store.enqueue("work", f"{i}".encode(), ttl=-1).id for i in range(2000)}
    body = (
        "result = []\n"
        "while batch := store.receive('work', 16, 600):\n"
        "    for m in batch:\n"
        "        result.append(m.id)\n"
        "        assert store.delete('work', m.id, m.pop_receipt)\n"
    )
    results = race_processes(backend.child_setup, body, children=2)
    received = [mid for ids in results for mid in ids]
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert set(received) == sent
    assert store.list_queues() == {"work": 0}


def test_producers_and_consumers_together(backend: Backend) -> None:
    """Two threads enqueue while two receive: everything sent is received exactly once."""
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    done = threading.Event()

    def work(index: int) -> list[str]:
        store = stores[index % len(stores)]
        if index < 2:
            ids = [store.enqueue("mixed", f"{index}-{i}".encode()).id for i in range(300)]
            return ids
        got: list[str] = []
        while True:
            # Read "done" before receiving: a receive that began before the last enqueue committed may come back
            # empty after the producers finished, and must not end the consumer.
            producers_done = done.is_set()
            batch = store.receive("mixed", 8, 600)
            if not batch and producers_done:
                return got
            for message in batch:
                assert message.pop_receipt is not None
                store.delete("mixed", message.id, message.pop_receipt)
                got.append(message.id)

    def run(index: int) -> list[str]:
        try:
            return work(index)
        finally:
            if index < 2:
                finished.append(index)
                if len(finished) == 2:
                    done.set()

    finished: list[int] = []
    results = race_threads(4, run)
    sent, received = results[0] + results[1], results[2] + results[3]
    assert len(received) == len(set(received))
    assert set(received) == set(sent)


# -- SQLite specifics --------------------------------------------------------------------------------------------


def test_open_queue_store_uses_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_queue_store(data_dir)
    try:
        store.enqueue("orders", b"x")
        assert store.list_queues() == {"orders": 1}
    finally:
        store.close()
    assert (data_dir / "overcast.db").is_file()
    assert (data_dir / ".gitignore").is_file()


def test_sqlite_receive_reads_the_index_in_receive_order(tmp_path: Path) -> None:
    """Receive order is the index order, so a long backlog is never sorted (the queue benchmark depends on it)."""
    from overcast.backends.sqlite.queues import _READY

    store = SqliteQueueStore(tmp_path / "o.db")
    try:
        with store._connection("explain") as conn:
            plan = " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + _READY, ("q", 0.0)))
    finally:
        store.close()
    assert "queue_messages_visible" in plan
    assert "TEMP B-TREE" not in plan


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteQueueStore(bad)
    assert str(bad) in str(caught.value)
    assert "queue store" in str(caught.value)
