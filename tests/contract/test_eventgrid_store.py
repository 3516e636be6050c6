"""The EventGridStore contract (local topics: inbox, fan-out, leased deliveries, dead letters), on every backend.

Time is a FakeClock. A new backend runs all of this by its line in ``BACKEND_CASES`` (tests/contract/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.eventgrid_store import EventGridStore, Route, Router
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

Backend = store_helpers.Backend[EventGridStore]
DAY = 86_400.0


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    chosen = Backend(
        storage.name, lambda: storage.backend().open_eventgrid(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_eventgrid"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> EventGridStore:
    return backend.open()


def to(*subscriptions: str, ttl: float = DAY) -> Router:
    """A router sending every event to the given subscriptions, expiring ``ttl`` after publication."""
    return lambda topic, event, published: [Route(s, published + ttl) for s in subscriptions]


def test_published_events_wait_in_the_inbox_until_fanned_out(store: EventGridStore, clock: FakeClock) -> None:
    assert store.next_due() is None
    assert store.publish("Orders", ['{"id": "1"}', '{"id": "2"}']) == 2
    assert store.inbox_size() == 2
    assert store.next_due() == clock.now
    assert store.pending() == []
    seen: list[tuple[str, str]] = []

    def router(topic: str, event: str, published: float) -> list[Route]:
        seen.append((topic, event))
        return [Route("a", published + DAY), Route("b", published + DAY)]

    assert store.fan_out(router, 10) == 2
    assert seen == [("orders", '{"id": "1"}'), ("orders", '{"id": "2"}')]  # topic names ignore case
    assert store.inbox_size() == 0
    pending = store.pending()
    assert sorted((d.subscription, d.event) for d in pending) == [
        ("a", '{"id": "1"}'), ("a", '{"id": "2"}'), ("b", '{"id": "1"}'), ("b", '{"id": "2"}')]
    assert {d.attempts for d in pending} == {0}
    assert {d.expires for d in pending} == {clock.now + DAY}


def test_fan_out_takes_at_most_the_limit_oldest_first(store: EventGridStore) -> None:
    store.publish("t", [f'"{n}"' for n in range(5)])
    assert store.fan_out(to("s"), 3) == 3
    assert store.inbox_size() == 2
    assert [d.event for d in store.pending()] == ['"0"', '"1"', '"2"']


def test_an_event_without_subscriptions_is_dropped(store: EventGridStore) -> None:
    store.publish("t", ['"x"'])
    assert store.fan_out(to(), 10) == 1
    assert store.inbox_size() == 0 and store.pending() == [] and store.next_due() is None


def test_a_router_that_fails_leaves_the_inbox_as_it_was(store: EventGridStore) -> None:
    store.publish("t", ['"x"'])

    def broken(topic: str, event: str, published: float) -> list[Route]:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        store.fan_out(broken, 10)
    assert store.inbox_size() == 1 and store.pending() == []


def test_a_claim_hides_the_delivery_for_its_lease(store: EventGridStore, clock: FakeClock) -> None:
    store.publish("t", ['"x"'])
    store.fan_out(to("s"), 10)
    [first] = store.claim(10, 30)
    assert first.attempts == 1 and first.receipt
    assert store.claim(10, 30) == []
    assert store.next_due() == clock.now + 30
    clock.advance(30)
    [again] = store.claim(10, 30)  # the lease ended unsettled: it comes back
    assert again.id == first.id and again.attempts == 2 and again.receipt != first.receipt
    assert not store.complete(first.id, first.receipt or "")  # the stale claim settles nothing
    assert store.complete(again.id, again.receipt or "")
    assert store.pending() == [] and store.next_due() is None


def test_retry_reschedules_and_records_the_failure(store: EventGridStore, clock: FakeClock) -> None:
    store.publish("t", ['"x"'])
    store.fan_out(to("s"), 10)
    [claimed] = store.claim(1, 30)
    assert store.retry(claimed.id, claimed.receipt or "", 10, "HTTP 503", 503)
    assert not store.retry(claimed.id, claimed.receipt or "", 10, "again", None)  # the receipt is spent
    assert store.claim(1, 30) == []
    [waiting] = store.pending()
    assert (waiting.due, waiting.last_error, waiting.last_status, waiting.receipt) == (clock.now + 10, "HTTP 503",
                                                                                       503, None)
    clock.advance(10)
    [next_try] = store.claim(1, 30)
    assert next_try.attempts == 2 and next_try.last_error == "HTTP 503"


def test_dead_letter_moves_the_delivery(store: EventGridStore, clock: FakeClock) -> None:
    store.publish("t", ['{"id": "e1"}'])
    store.fan_out(to("sub"), 10)
    [claimed] = store.claim(1, 30)
    clock.advance(5)
    assert store.dead_letter(claimed.id, claimed.receipt or "", "MaxDeliveryAttemptsExceeded", "boom", 500)
    assert not store.dead_letter(claimed.id, claimed.receipt or "", "again", "", None)
    assert store.pending() == []
    [dead] = store.dead_letters()
    assert (dead.id, dead.topic, dead.subscription, dead.event, dead.attempts, dead.reason, dead.last_error,
            dead.last_status, dead.dead_at) == (claimed.id, "t", "sub", '{"id": "e1"}', 1,
                                                "MaxDeliveryAttemptsExceeded", "boom", 500, clock.now)


def test_drop_deletes_a_claimed_delivery(store: EventGridStore) -> None:
    store.publish("t", ['"x"'])
    store.fan_out(to("gone"), 10)
    [claimed] = store.claim(1, 30)
    assert store.drop(claimed.id, claimed.receipt or "")
    assert store.pending() == [] and store.dead_letters() == []


def test_claims_come_earliest_due_first(store: EventGridStore, clock: FakeClock) -> None:
    store.publish("t", ['"a"', '"b"'])
    store.fan_out(to("s"), 10)
    first, second = store.claim(2, 30)
    store.retry(first.id, first.receipt or "", 20, "", None)
    store.retry(second.id, second.receipt or "", 10, "", None)
    clock.advance(20)
    assert [d.event for d in store.claim(2, 30)] == [second.event, first.event]


def test_a_claim_can_leave_subscriptions_to_other_instances(store: EventGridStore, clock: FakeClock) -> None:
    """An instance that runs some of the app's functions leaves the deliveries of the others alone."""
    store.publish("orders", ['{"id": "1"}'])
    store.fan_out(to("here", "elsewhere", "Elsewhere"), 10)
    everything = {"here", "elsewhere", "Elsewhere"}
    assert store.next_due(everything) is None and store.claim(10, 30, everything) == []
    assert store.next_due({"elsewhere", "Elsewhere"}) == clock.now
    [mine] = store.claim(10, 30, ["elsewhere", "Elsewhere"])
    assert mine.subscription == "here"
    assert store.next_due({"elsewhere", "Elsewhere"}) == clock.now + 30  # its own lease, not the others' due time
    [other] = store.claim(10, 30, {"elsewhere"})  # names are exact: "Elsewhere" is another subscription
    assert other.subscription == "Elsewhere"
    assert [d.subscription for d in store.claim(10, 30)] == ["elsewhere"]
    assert store.claim(10, 30) == [] and store.next_due() == clock.now + 30


def test_bad_arguments_are_refused(store: EventGridStore) -> None:
    with pytest.raises(StoreError):
        store.publish("no spaces", ['"x"'])
    with pytest.raises(StoreError):
        store.claim(0, 30)
    with pytest.raises(StoreError):
        store.claim(1, 0)


def test_closed_store_raises(backend: Backend) -> None:
    store = backend.open()
    store.close()
    with pytest.raises(StoreError):
        store.publish("t", ['"x"'])
    store.close()


def test_threads_claim_each_delivery_once(store: EventGridStore) -> None:
    store.publish("t", [f'"{n}"' for n in range(200)])
    while store.fan_out(to("s"), 50):
        pass
    claimed = race_threads(4, lambda _: [d.id for _ in range(60) for d in store.claim(5, 60)])
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 200


def test_a_reopened_store_keeps_everything(backend: Backend, clock: FakeClock) -> None:
    if not backend.persistent:
        pytest.skip("this backend keeps its data in the process")
    first = backend.open()
    first.publish("u", ['"routed"'])
    first.publish("t", ['"inbox"'])
    first.fan_out(lambda topic, event, published: [Route("s", published + DAY)] if topic == "u" else [], 1)
    first.close()
    second = backend.open()
    assert second.inbox_size() == 1
    assert [d.event for d in second.pending()] == ['"routed"']


def test_processes_route_and_claim_each_event_once(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip("this backend lives in one process")
    store = backend.open()
    store.publish("t", [f'"{n}"' for n in range(300)])
    body = (
        "from overcast.backends.eventgrid_store import Route\n"
        "ids = []\n"
        "for _ in range(400):\n"
        "    store.fan_out(lambda t, e, p: [Route('s', p + 86400)], 7)\n"
        "    ids += [d.event for d in store.claim(5, 600)]\n"
        "result = ids\n"
    )
    results = race_processes(backend.child_setup, body)
    events = [e for batch in results for e in batch]
    assert len(events) == len(set(events)) == 300
