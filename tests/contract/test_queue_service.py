"""The QueueServiceStore contract (what the Queue REST API needs), run against every backend.

Time is a FakeClock. The service store is a queue store too: messages put or changed through it are the messages
the queue trigger receives (on a backend that reopens, also through a separately opened queue store).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.base import QueueBackend
from overcast.backends.queue_service_store import CreateOutcome, MessageProblem, QueueServiceStore, UpdatedMessage
from overcast.errors import StoreError
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_threads


@pytest.fixture
def service(storage: Storage) -> Iterator[QueueServiceStore]:
    store = storage.backend().open_queue_service()
    yield store
    store.close()


@pytest.fixture
def queues(storage: Storage, service: QueueServiceStore) -> Iterator[QueueBackend]:
    """The queue store the triggers use: the same object on a one-process backend, a second one otherwise."""
    if not storage.reopens:
        yield service
        return
    store = storage.backend().open_queues()
    yield store
    store.close()


def test_create_makes_an_empty_queue_with_metadata(service: QueueServiceStore, queues: QueueBackend) -> None:
    assert service.create_queue("orders", {"Owner": "ops"}) is CreateOutcome.CREATED
    props = service.queue_properties("orders")
    assert props is not None
    assert dict(props.metadata) == {"Owner": "ops"}
    assert props.approximate_count == 0
    assert queues.list_queues() == {"orders": 0}


def test_create_again_tells_same_from_different_metadata(service: QueueServiceStore) -> None:
    service.create_queue("orders", {"a": "1"})
    assert service.create_queue("orders", {"A": "1"}) is CreateOutcome.EXISTS_SAME  # names ignore case
    assert service.create_queue("orders", {"a": "2"}) is CreateOutcome.EXISTS_DIFFERENT
    assert service.create_queue("orders", {}) is CreateOutcome.EXISTS_DIFFERENT
    assert dict(service.queue_properties("orders").metadata) == {"a": "1"}  # type: ignore[union-attr]


def test_a_queue_made_by_a_write_exists_without_metadata(service: QueueServiceStore, queues: QueueBackend) -> None:
    queues.enqueue("made-by-binding", b"x")
    props = service.queue_properties("made-by-binding")
    assert props is not None and dict(props.metadata) == {} and props.approximate_count == 1
    assert service.create_queue("made-by-binding", {}) is CreateOutcome.EXISTS_SAME


def test_missing_queue_has_no_properties_and_no_metadata_to_set(service: QueueServiceStore) -> None:
    assert service.queue_properties("nothere") is None
    assert service.set_queue_metadata("nothere", {"a": "b"}) is False


def test_set_metadata_replaces_it(service: QueueServiceStore) -> None:
    service.create_queue("orders", {"a": "1", "b": "2"})
    assert service.set_queue_metadata("orders", {"c": "3"}) is True
    assert dict(service.queue_properties("orders").metadata) == {"c": "3"}  # type: ignore[union-attr]


def test_metadata_names_must_be_identifiers(service: QueueServiceStore) -> None:
    with pytest.raises(StoreError, match="Metadata name"):
        service.create_queue("orders", {"not valid": "x"})


def test_count_skips_expired_messages(service: QueueServiceStore, clock: FakeClock, queues: QueueBackend) -> None:
    service.create_queue("orders", {})
    queues.enqueue("orders", b"short", ttl=10)
    queues.enqueue("orders", b"long")
    queues.receive("orders", 1, 30)  # invisible messages count too
    clock.advance(11)
    assert service.queue_properties("orders").approximate_count == 1  # type: ignore[union-attr]


def test_list_pages_by_prefix_and_marker(service: QueueServiceStore) -> None:
    for name in ["alpha", "beta1", "beta2", "beta3", "gamma"]:
        service.create_queue(name, {"n": name})
    page, marker = service.list_queue_page("beta", "", 2)
    assert [q.name for q in page] == ["beta1", "beta2"] and marker == "beta3"
    assert dict(page[0].metadata) == {"n": "beta1"}
    page, marker = service.list_queue_page("beta", marker, 2)
    assert [q.name for q in page] == ["beta3"] and marker == ""
    page, marker = service.list_queue_page("", "", 5000)
    assert [q.name for q in page] == ["alpha", "beta1", "beta2", "beta3", "gamma"] and marker == ""
    with pytest.raises(StoreError):
        service.list_queue_page("", "", 0)


def test_delete_queue_drops_messages_and_metadata(service: QueueServiceStore, queues: QueueBackend) -> None:
    service.create_queue("orders", {"a": "1"})
    queues.enqueue("orders", b"x")
    assert service.delete_queue("orders") is True
    assert service.queue_properties("orders") is None
    assert service.create_queue("orders", {}) is CreateOutcome.CREATED
    assert dict(service.queue_properties("orders").metadata) == {}  # type: ignore[union-attr]
    assert service.delete_queue("nothere") is False


def test_update_changes_visibility_body_and_receipt(service: QueueServiceStore, queues: QueueBackend,
                                                   clock: FakeClock) -> None:
    service.create_queue("orders", {})
    put = queues.enqueue("orders", b"v1")
    [got] = queues.receive("orders", 1, 30)
    assert got.pop_receipt is not None
    updated = service.update_message("orders", put.id, got.pop_receipt, 5, b"v2")
    assert isinstance(updated, UpdatedMessage)
    assert updated.pop_receipt != got.pop_receipt
    assert updated.next_visible.timestamp() == pytest.approx(clock.now + 5)
    assert queues.receive("orders", 1, 30) == []
    clock.advance(5)
    [again] = queues.receive("orders", 1, 30)
    assert again.body == b"v2" and again.dequeue_count == 2  # an update keeps the dequeue count


def test_update_without_body_keeps_it(service: QueueServiceStore, queues: QueueBackend) -> None:
    put = queues.enqueue("orders", b"keep")
    assert put.pop_receipt is not None
    updated = service.update_message("orders", put.id, put.pop_receipt, 0)
    assert isinstance(updated, UpdatedMessage)
    assert [m.body for m in queues.peek("orders", 1)] == [b"keep"]


def test_update_and_delete_tell_their_problems(service: QueueServiceStore, queues: QueueBackend,
                                               clock: FakeClock) -> None:
    put = queues.enqueue("orders", b"x", ttl=60)
    assert put.pop_receipt is not None
    assert service.update_message("nothere", put.id, put.pop_receipt, 0) is MessageProblem.QUEUE_NOT_FOUND
    assert service.delete_message("nothere", put.id, put.pop_receipt) is MessageProblem.QUEUE_NOT_FOUND
    assert service.update_message("orders", "no-such-id", "r", 0) is MessageProblem.MESSAGE_NOT_FOUND
    assert service.delete_message("orders", "no-such-id", "r") is MessageProblem.MESSAGE_NOT_FOUND
    queues.receive("orders", 1, 0)  # a new receipt: the put's receipt is stale now
    assert service.update_message("orders", put.id, put.pop_receipt, 0) is MessageProblem.POP_RECEIPT_MISMATCH
    assert service.delete_message("orders", put.id, put.pop_receipt) is MessageProblem.POP_RECEIPT_MISMATCH
    clock.advance(61)
    assert service.delete_message("orders", put.id, "any") is MessageProblem.MESSAGE_NOT_FOUND


def test_delete_with_the_current_receipt(service: QueueServiceStore, queues: QueueBackend) -> None:
    queues.enqueue("orders", b"x")
    [got] = queues.receive("orders", 1, 30)
    assert got.pop_receipt is not None
    assert service.delete_message("orders", got.id, got.pop_receipt) is None
    assert service.queue_properties("orders").approximate_count == 0  # type: ignore[union-attr]


def test_update_refuses_a_body_over_64_kib(service: QueueServiceStore, queues: QueueBackend) -> None:
    put = queues.enqueue("orders", b"x")
    assert put.pop_receipt is not None
    with pytest.raises(StoreError):
        service.update_message("orders", put.id, put.pop_receipt, 0, b"y" * (64 * 1024 + 1))


def test_concurrent_creates_create_once(service: QueueServiceStore) -> None:
    outcomes = race_threads(8, lambda _: service.create_queue("shared", {"k": "v"}))
    assert outcomes.count(CreateOutcome.CREATED) == 1
    assert outcomes.count(CreateOutcome.EXISTS_SAME) == 7


def test_message_operations_need_the_queue(service: QueueServiceStore, queues: QueueBackend) -> None:
    assert service.put_message("nothere", b"x", 0, None) is None
    assert service.get_messages("nothere", 1, 30) is None
    assert service.peek_messages("nothere", 1) is None
    assert service.clear_messages("nothere") is False
    assert queues.list_queues() == {}  # nothing was created on the way


def test_put_get_peek_clear_through_the_service(service: QueueServiceStore, queues: QueueBackend,
                                                clock: FakeClock) -> None:
    service.create_queue("orders", {})
    put = service.put_message("orders", b"later", 10, 60)
    assert put is not None and put.pop_receipt is not None
    assert put.next_visible.timestamp() == clock.now + 10
    assert put.expiration_time.timestamp() == clock.now + 60
    service.put_message("orders", b"now", 0, -1)
    assert [m.body for m in service.peek_messages("orders", 32) or []] == [b"now"]
    got = service.get_messages("orders", 32, 30)
    assert got is not None and [(m.body, m.dequeue_count) for m in got] == [(b"now", 1)]
    clock.advance(10)
    assert [m.body for m in queues.receive("orders", 32, 30)] == [b"later"]  # the trigger's view
    assert service.clear_messages("orders") is True
    assert service.queue_properties("orders").approximate_count == 0  # type: ignore[union-attr]
