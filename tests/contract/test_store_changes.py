"""The ChangeSource contract (overcast.backends.changes): a write through one store object is reported, under the name
its listeners wait on, to a watcher on another store object of the same database (another connection: another
instance), for every store a trigger listener waits on. A lost LISTEN connection is reopened and reported as
EVERYTHING. Backends whose stores are heard only in-process (memory: one process; SQLite: polling) declare it."""

from __future__ import annotations

import os
import queue
import uuid
from collections.abc import Callable
from contextlib import closing

import pytest

from overcast.backends.blob_api_store import BlobWrite, Conditions
from overcast.backends.changes import EVERYTHING, ChangeSource, HeardInProcess
from overcast.backends.eventhubs_store import EventData
from overcast.backends.registry import StorageBackend
from overcast.backends.servicebus_store import SUBSCRIPTION, OutgoingMessage
from tests.contract.conftest import Storage

WAIT_S = 15.0  # how long a report may take to arrive before the test fails (a bound, not a speed check)


def _name() -> str:
    return f"w{uuid.uuid4().hex[:10]}"


def queue_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_queues()) as store:
        store.enqueue(name, b"x")


def servicebus_queue_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_servicebus()) as store:
        store.send(name, [OutgoingMessage(b"x")])


def servicebus_topic_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_servicebus()) as store:
        store.ensure(f"{name}/subscriptions/audit", SUBSCRIPTION)
        store.send(name, [OutgoingMessage(b"x")])


def eventhubs_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_eventhubs()) as store:
        store.ensure_hub(name, 4)
        store.send(name, [EventData(b"x")], partition_id="2")


def eventgrid_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_eventgrid()) as store:
        store.publish(name, ['{"id": "1"}'])


def blob_binding_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_blob_api()) as store:
        store.put(name, "a.txt", b"x")


def blob_api_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_blob_api()) as store:
        store.create_container(name, {}, "")
        store.put_blob(name, "b.txt", [b"y"], BlobWrite(), Conditions())


def document_write(backend: StorageBackend, name: str) -> None:
    with closing(backend.open_documents()) as store:
        store.create_container("db", name)
        store.write("db", name, {"id": "1", "v": 1})


Opener = Callable[[StorageBackend], ChangeSource]
# (the store a listener watches, the write another instance makes, the name reported for a write under `name`)
CASES: list[tuple[str, Opener, Callable[[StorageBackend, str], None], Callable[[str], str]]] = [
    ("queue", lambda b: b.open_queues(), queue_write, lambda n: n),
    ("servicebus-queue", lambda b: b.open_servicebus(), servicebus_queue_write, lambda n: n),
    ("servicebus-topic", lambda b: b.open_servicebus(), servicebus_topic_write, lambda n: n),
    ("eventhubs", lambda b: b.open_eventhubs(), eventhubs_write, lambda n: f"{n}/2"),
    ("eventgrid", lambda b: b.open_eventgrid(), eventgrid_write, lambda n: n),
    ("blob-binding", lambda b: b.open_blob_api(), blob_binding_write, lambda n: n),
    ("blob-api", lambda b: b.open_blob_api(), blob_api_write, lambda n: n),
    ("documents", lambda b: b.open_documents(), document_write, lambda n: f"db/{n}"),
]


class Watcher:
    """Collects the names a store reports."""

    def __init__(self) -> None:
        self.names: queue.Queue[str] = queue.Queue()

    def __call__(self, name: str) -> None:
        self.names.put(name)

    def wait_for(self, wanted: str) -> list[str]:
        """The names reported until ``wanted`` (other tests share the database: their names may come too)."""
        seen = []
        while True:
            try:
                name = self.names.get(timeout=WAIT_S)
            except queue.Empty:
                pytest.fail(f"no report of {wanted!r} within {WAIT_S} s; got {seen}")
            seen.append(name)
            if name == wanted:
                return seen


@pytest.fixture
def shares_changes(storage: Storage) -> bool:
    return storage.case.server is not None


@pytest.mark.parametrize(("opener", "write", "reported"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_another_instances_write_is_reported(storage: Storage, shares_changes: bool, opener: Opener,
                                             write: Callable[[StorageBackend, str], None],
                                             reported: Callable[[str], str]) -> None:
    watched = opener(storage.backend())
    try:
        if not shares_changes:
            # Declared: listeners of this backend hear of other processes' writes by polling only.
            assert isinstance(watched, HeardInProcess)
            return
        watcher = Watcher()
        unwatch = watched.watch_changes(watcher)
        name = _name()
        writer = storage.backend()  # its stores have connections of their own: another instance's
        write(writer, name)
        assert watcher.wait_for(reported(name))[-1] == reported(name)
        unwatch()
    finally:
        watched.close()


def test_a_lost_listen_connection_is_reopened_and_reports_everything(storage: Storage,
                                                                     shares_changes: bool) -> None:
    if not shares_changes:
        pytest.skip("only a server-backed store has a LISTEN connection to lose")
    import psycopg

    watched = storage.backend().open_queues()
    try:
        watcher = Watcher()
        watched.watch_changes(watcher)
        with psycopg.connect(storage.connection, autocommit=True) as admin:
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                                   (f"overcast-listen-{os.getpid()}",)).fetchall()
        assert killed, "the listener's connection was not found"
        watcher.wait_for(EVERYTHING)
        # ...and it listens again: a later write is reported.
        name = _name()
        queue_write(storage.backend(), name)
        watcher.wait_for(name)
    finally:
        watched.close()


def test_a_closed_store_reports_nothing_more(storage: Storage, shares_changes: bool) -> None:
    if not shares_changes:
        pytest.skip("only a server-backed store reports other instances' writes")
    watched = storage.backend().open_servicebus()
    watcher = Watcher()
    watched.watch_changes(watcher)
    watched.close()
    other = storage.backend().open_servicebus()
    other_watcher = Watcher()
    other.watch_changes(other_watcher)  # proves the report was sent: this still-open one hears it
    try:
        name = _name()
        servicebus_queue_write(storage.backend(), name)
        other_watcher.wait_for(name)
        assert name not in list(watcher.names.queue)
    finally:
        other.close()

