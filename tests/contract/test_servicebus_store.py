"""The Service Bus store contract (peek-lock, settlement, dead-lettering, sessions, topics), on every backend.

Time is a FakeClock: tests move it instead of sleeping. A backend is one line in ``BACKEND_CASES`` (conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.servicebus_store import (
    EXPIRED_REASON,
    MAX_DELIVERY_REASON,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    Entity,
    EntityProperties,
    OutgoingMessage,
    Rule,
    ServiceBusBackend,
    subscription_path,
)
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

Backend = store_helpers.Backend[ServiceBusBackend]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    chosen = Backend(storage.name, lambda: storage.backend().open_servicebus(), persistent=storage.reopens,
                     child_setup=storage.child_setup("open_servicebus"))
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> ServiceBusBackend:
    return backend.open()


def msg(text: str, **fields: object) -> OutgoingMessage:
    return OutgoingMessage(text.encode(), **fields)  # type: ignore[arg-type]


def bodies(messages: list[object]) -> list[str]:
    return [m.body.decode() for m in messages]  # type: ignore[attr-defined]


# -- entities ----------------------------------------------------------------------------------------------------


def test_entities_are_created_on_first_use_with_azures_defaults(store: ServiceBusBackend) -> None:
    entity = store.ensure("Orders", QUEUE)
    assert entity.path == "orders" and entity.kind == QUEUE
    assert entity.properties == EntityProperties(60.0, 10, None, False, False, None)
    assert store.ensure("orders", TOPIC).kind == QUEUE  # an existing entity is returned as it is
    store.send("new-queue", [msg("a")])
    assert [(e.path, e.kind, e.active) for e in store.entities()] == [("new-queue", QUEUE, 1), ("orders", QUEUE, 0)]


def test_declared_entities_replace_the_defaults(store: ServiceBusBackend) -> None:
    store.ensure("orders", QUEUE)
    store.declare([Entity("orders", QUEUE, EntityProperties(lock_duration=5, max_delivery_count=2))])
    assert store.ensure("orders", QUEUE).properties.max_delivery_count == 2
    store.declare([Entity(subscription_path("events", "audit"), SUBSCRIPTION)])
    assert [(e.path, e.kind) for e in store.entities()] == [
        ("events", TOPIC), ("events/subscriptions/audit", SUBSCRIPTION), ("orders", QUEUE)]


# -- peek-lock and settlement ------------------------------------------------------------------------------------


def test_receive_locks_messages_in_order_with_system_properties(store: ServiceBusBackend, clock: FakeClock) -> None:
    numbers = store.send("q", [msg("one", message_id="m1", subject="s", application_properties={"k": 1}),
                               msg("two"), msg("three")])
    assert numbers == [1, 2, 3]
    got = store.receive("q", 2)
    assert bodies(got) == ["one", "two"]  # type: ignore[arg-type]
    first = got[0]
    assert first.message.message_id == "m1" and first.message.subject == "s"
    assert first.message.application_properties == {"k": 1}
    assert first.sequence_number == 1 and first.delivery_count == 1 and first.enqueued_time == clock.now
    assert first.lock_token and first.locked_until == clock.now + 60
    assert got[1].message.message_id  # a new id when none is given
    assert bodies(store.receive("q", 10)) == ["three"]  # type: ignore[arg-type]
    assert store.receive("q", 10) == []  # all held


def test_complete_removes_and_a_stale_lock_cannot_settle(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.send("q", [msg("a"), msg("b")])
    a, b = store.receive("q", 2)
    assert store.settle("q", [str(a.lock_token)], "complete") == [True]
    assert store.settle("q", [str(a.lock_token)], "complete") == [False]
    clock.advance(61)  # b's lock ran out
    assert store.settle("q", [str(b.lock_token)], "complete") == [False]
    again = store.receive("q", 1)
    assert bodies(again) == ["b"] and again[0].delivery_count == 2  # type: ignore[arg-type]


def test_abandon_counts_a_delivery_and_dead_letters_at_max(store: ServiceBusBackend) -> None:
    store.declare([Entity("q", QUEUE, EntityProperties(max_delivery_count=3))])
    store.send("q", [msg("poison")])
    for count in (1, 2, 3):
        (got,) = store.receive("q", 1)
        assert got.delivery_count == count
        assert store.settle("q", [str(got.lock_token)], "abandon") == [True]
    assert store.receive("q", 1) == []
    (dead,) = store.peek("q/$deadletterqueue", 10)
    assert dead.state == "deadlettered" and dead.entity == "q/$deadletterqueue"
    assert dead.dead_letter_reason == MAX_DELIVERY_REASON
    assert dead.dead_letter_description == "Message could not be consumed after 3 delivery attempts."
    counts = {e.path: (e.active, e.dead_letter) for e in store.entities()}
    assert counts["q"] == (0, 1)


def test_a_lock_that_runs_out_at_max_deliveries_dead_letters(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.declare([Entity("q", QUEUE, EntityProperties(lock_duration=10, max_delivery_count=2))])
    store.send("q", [msg("x")])
    store.receive("q", 1)
    clock.advance(11)
    assert store.receive("q", 1)[0].delivery_count == 2
    clock.advance(11)
    assert store.receive("q", 1) == []  # a killed consumer's message is not delivered a third time
    assert store.peek("q/$deadletterqueue", 1)[0].dead_letter_reason == MAX_DELIVERY_REASON


def test_dead_letter_with_reason_and_the_dead_letter_queue_is_receivable(store: ServiceBusBackend) -> None:
    store.send("q", [msg("bad")])
    (got,) = store.receive("q", 1)
    assert store.dead_letter("q", str(got.lock_token), "Invalid", "no schema") is True
    assert store.dead_letter("q", str(got.lock_token), "Invalid", "") is False
    (dead,) = store.receive("q/$DeadLetterQueue", 5)
    assert (dead.dead_letter_reason, dead.dead_letter_description) == ("Invalid", "no schema")
    assert store.settle("q/$deadletterqueue", [str(dead.lock_token)], "complete") == [True]
    assert store.peek("q/$deadletterqueue", 5) == []


def test_renew_extends_the_lock(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.send("q", [msg("a")])
    (got,) = store.receive("q", 1)
    clock.advance(50)
    assert store.renew("q", str(got.lock_token)) == clock.now + 60
    clock.advance(50)
    assert store.receive("q", 1) == []  # still held thanks to the renewal
    clock.advance(11)
    assert store.renew("q", str(got.lock_token)) is None


# -- time: expiry, scheduling, duplicates -------------------------------------------------------------------------


def test_expired_messages_are_dropped_or_dead_lettered(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.declare([Entity("keep", QUEUE, EntityProperties(dead_letter_on_expiration=True)),
                   Entity("drop", QUEUE, EntityProperties(default_ttl=30))])
    store.send("keep", [msg("k", time_to_live=10)])
    store.send("drop", [msg("d", time_to_live=100)])  # capped at the entity's 30 s
    assert store.peek("drop", 1)[0].expires_at == clock.now + 30
    clock.advance(31)
    assert store.receive("keep", 5) == [] and store.receive("drop", 5) == []
    (dead,) = store.peek("keep/$deadletterqueue", 5)
    assert dead.dead_letter_reason == EXPIRED_REASON
    assert store.peek("drop/$deadletterqueue", 5) == []


def test_scheduled_messages_wait_for_their_time(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.send("q", [msg("later", scheduled_enqueue_time=clock.now + 30), msg("now")])
    assert bodies(store.receive("q", 5)) == ["now"]  # type: ignore[arg-type]
    assert [(e.active, e.scheduled) for e in store.entities()] == [(1, 1)]
    assert store.peek("q", 5)[0].state == "scheduled"
    clock.advance(30)
    (got,) = store.receive("q", 5)
    assert got.body == b"later" and got.enqueued_time == clock.now


def test_duplicate_detection_drops_a_repeated_id_within_the_window(store: ServiceBusBackend,
                                                                 clock: FakeClock) -> None:
    store.declare([Entity("q", QUEUE, EntityProperties(duplicate_window=60))])
    assert store.send("q", [msg("a", message_id="x"), msg("b", message_id="x")]) == [1, 0]
    clock.advance(61)
    assert store.send("q", [msg("c", message_id="x")]) == [2]
    store.send("plain", [msg("a", message_id="x"), msg("b", message_id="x")])
    assert len(store.peek("plain", 5)) == 2  # no detection unless the entity asks for it


# -- sessions ----------------------------------------------------------------------------------------------------


def test_a_session_is_held_by_one_receiver_and_read_in_order(store: ServiceBusBackend, clock: FakeClock) -> None:
    store.declare([Entity("s", QUEUE, EntityProperties(requires_session=True))])
    store.send("s", [msg("a1", session_id="a"), msg("b1", session_id="b"), msg("a2", session_id="a")])
    with pytest.raises(StoreError, match="requires sessions"):
        store.receive("s", 1)
    first = store.accept_session("s")
    assert first is not None and first.session_id == "a"
    second = store.accept_session("s")
    assert second is not None and second.session_id == "b"
    assert store.accept_session("s") is None  # both held
    assert bodies(store.receive("s", 5, first)) == ["a1", "a2"]  # type: ignore[arg-type]
    assert bodies(store.receive("s", 5, second)) == ["b1"]  # type: ignore[arg-type]
    store.release_session(second)
    again = store.accept_session("s", "b")
    assert again is not None  # released: its held message is available to the new holder
    assert bodies(store.receive("s", 5, again)) == ["b1"]  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="was lost"):
        store.receive("s", 1, second)
    clock.advance(50)
    renewed = store.renew_session(first)
    assert renewed is not None and renewed.locked_until == clock.now + 60
    clock.advance(61)
    assert store.renew_session(first) is None


# -- topics ------------------------------------------------------------------------------------------------------


def test_a_topic_copies_messages_through_each_subscriptions_rules(store: ServiceBusBackend) -> None:
    store.declare([
        Entity(subscription_path("orders", "all"), SUBSCRIPTION),
        Entity(subscription_path("orders", "red"), SUBSCRIPTION, rules=(Rule("red", sql="color = 'red'"),)),
        Entity(subscription_path("orders", "vip"), SUBSCRIPTION,
               rules=(Rule("vip", correlation={"Label": "vip", "Properties": {"tier": 1}}),)),
        Entity(subscription_path("orders", "tagged"), SUBSCRIPTION,
               rules=(Rule("tag", sql="1=1", action="SET sys.Label = 'tagged'; SET seen = 1"),
                      Rule("$Default", sql="1=1"))),
    ])
    store.send("orders", [msg("r", application_properties={"color": "red"}),
                          msg("v", subject="vip", application_properties={"tier": 1})])
    assert bodies(store.peek("orders/subscriptions/all", 5)) == ["r", "v"]  # type: ignore[arg-type]
    assert bodies(store.peek("orders/subscriptions/red", 5)) == ["r"]  # type: ignore[arg-type]
    assert bodies(store.peek("orders/subscriptions/vip", 5)) == ["v"]  # type: ignore[arg-type]
    tagged = store.peek("orders/subscriptions/tagged", 10)
    assert len(tagged) == 4  # per message: one plain copy, one copy for the rule with an action
    actioned = [m for m in tagged if m.message.subject == "tagged"]
    assert len(actioned) == 2 and all(m.message.application_properties["RuleName"] == "tag" for m in actioned)
    assert store.peek("orders", 5) == []  # a topic holds nothing itself


def test_purge_and_resubmit(store: ServiceBusBackend) -> None:
    store.send("q", [msg("a"), msg("b"), msg("c")])
    for got in store.receive("q", 2):
        store.dead_letter("q", str(got.lock_token), "r")
    first_dead = store.peek("q/$deadletterqueue", 5)[0].sequence_number
    assert store.resubmit("q", [first_dead]) == 1
    assert bodies(store.peek("q", 5)) == ["c", "a"]  # type: ignore[arg-type]
    assert store.purge("q/$deadletterqueue") == 1
    assert store.purge("q") == 2
    assert [(e.active, e.dead_letter) for e in store.entities()] == [(0, 0)]


# -- concurrency -------------------------------------------------------------------------------------------------


def test_threads_receiving_at_once_never_share_a_message(backend: Backend) -> None:
    store = backend.open()
    store.send("q", [msg(str(i)) for i in range(60)])
    stores = [backend.open() for _ in range(4)] if backend.persistent else [store] * 4

    def drain(index: int) -> list[int]:
        taken = []
        while got := stores[index].receive("q", 3):
            taken += [m.sequence_number for m in got]
        return taken

    taken = [n for part in race_threads(4, drain) for n in part]
    assert sorted(taken) == list(range(1, 61))


def test_processes_receiving_at_once_never_share_a_message(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip("the store lives in one process")
    store = backend.open()
    store.send("q", [msg(str(i)) for i in range(40)])
    body = ("result = []\nwhile got := store.receive('q', 2):\n"
            "    result += [m.sequence_number for m in got]\n")
    results = race_processes(backend.child_setup, body)
    assert sorted(n for part in results for n in part) == list(range(1, 41))


def test_processes_sending_receiving_and_settling_on_two_entities_lose_and_share_nothing(backend: Backend) -> None:
    """Receives and settlements of different entities do not wait for each other (a lock per entity where the
    backend has named locks): each message is still received by one process and completed once, while sends run."""
    if backend.child_setup is None:
        pytest.skip("the store lives in one process")
    store = backend.open()
    for name in ("a", "b"):
        store.send(name, [msg(f"{name}{i}") for i in range(30)])
    body = ("import sys\n"
            "from overcast.backends.servicebus_store import OutgoingMessage\n"
            "me = int(sys.argv[1])\n"
            "result = []\n"
            "for round in range(200):\n"
            "    if me == 3 and round < 20:\n"
            "        store.send('ab'[round % 2], [OutgoingMessage(f'late{round}'.encode())])\n"
            "    got = store.receive('ab'[(me + round) % 2], 3)\n"
            "    done = store.settle('ab'[(me + round) % 2], [m.lock_token for m in got], 'complete')\n"
            "    assert all(done), done\n"
            "    result += [m.body.decode() for m in got]\n")
    results = race_processes(backend.child_setup, body, children=4)
    received = [text for part in results for text in part]
    expected = [f"{n}{i}" for n in "ab" for i in range(30)] + [f"late{r}" for r in range(20)]
    assert sorted(received) == sorted(expected)  # each once: none shared, none lost
    assert store.peek("a", 5) == [] and store.peek("b", 5) == []


def test_a_reopened_store_keeps_entities_and_messages(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip("the store lives in its object")
    backend.open().send("q", [msg("kept", session_id="s")])
    (got,) = backend.open().peek("q", 5)
    assert got.body == b"kept" and got.message.session_id == "s"
