"""The stores of one instance, per connection: each opened once, on first use, and shared by everything in the
process that uses that connection (the host, the listeners, binding I/O, durable hosting, the CLI)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from overcast.backends.base import BlobStore, Clock, LeaseStore, QueueBackend, StateStore, TableStore
from overcast.backends.blob_events import PublishingBlobStore
from overcast.backends.registry import BackendTarget, StorageBackend, open_backend

if TYPE_CHECKING:
    from overcast.backends.blob_api_store import BlobApiStore
    from overcast.backends.documents_store import DocumentStore
    from overcast.backends.eventgrid_store import EventGridStore
    from overcast.backends.eventhubs_store import EventHubsStore
    from overcast.backends.queue_service_store import QueueServiceStore
    from overcast.backends.servicebus_store import ServiceBusBackend
    from overcast.backends.table_service_store import TableServiceStore
    from overcast.durable.store import DurableStore


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)
EMBEDDED = "embedded"  # the connection kind of the host's own store (keys, timer status) and of the CLI's commands


class ConnectionStores:
    """One connection's backend and the stores opened on it so far (each at most once)."""

    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend
        self._opened: dict[str, _Closable] = {}

    def _once(self, name: str, opener: Callable[[], S]) -> S:
        found = self._opened.get(name)
        if found is None:
            found = self._opened[name] = opener()
        return found  # type: ignore[return-value]  # each name is always opened by the same opener

    @property
    def state(self) -> StateStore:
        return self._once("state", self.backend.open_state)

    @property
    def queues(self) -> QueueBackend:
        return self._once("queues", self.backend.open_queues)

    @property
    def consumer_queues(self) -> QueueBackend:
        """The listeners' own queue store where a second one shares the data: their receives and settles then never
        make an output binding's enqueue wait behind them in this process (bench/queue_enqueue_under_load.py)."""
        if not self.backend.reopens:
            return self.queues
        return self._once("consumer_queues", self.backend.open_queues)

    @property
    def blobs(self) -> BlobStore:
        """Publishes blob events while an app subscribes to them (:mod:`overcast.backends.blob_events`)."""
        return self._once("blobs", lambda: cast(BlobStore, PublishingBlobStore(self.blob_api, self)))

    @property
    def blob_api(self) -> BlobApiStore:
        """The blob store with the Blob REST API's operations, on the same object the bindings' store wraps (a
        backend whose stores live in the object then shares its blobs between both)."""
        return self._once("blob_api", self.backend.open_blob_api)

    @property
    def tables(self) -> TableStore:
        return self._once("tables", self.backend.open_tables)

    @property
    def leases(self) -> LeaseStore:
        return self._once("leases", self.backend.open_leases)

    @property
    def queue_service(self) -> QueueServiceStore:
        """The Queue API's store (on a one-process backend its own messages; else the shared ones)."""
        return self._once("queue_service", self.backend.open_queue_service)

    @property
    def table_service(self) -> TableServiceStore:
        """The Table API's store (on a one-process backend its own entities; else the shared ones)."""
        return self._once("table_service", self.backend.open_table_service)

    @property
    def durable(self) -> DurableStore:
        return self._once("durable", self.backend.open_durable)

    @property
    def servicebus(self) -> ServiceBusBackend:
        return self._once("servicebus", self.backend.open_servicebus)

    @property
    def eventhubs(self) -> EventHubsStore:
        return self._once("eventhubs", self.backend.open_eventhubs)

    @property
    def consumer_eventhubs(self) -> EventHubsStore:
        """The Event Hubs listeners' own store where a second one shares the data (as ``consumer_queues``): a
        send through an output binding never waits behind a pump's read."""
        if not self.backend.reopens:
            return self.eventhubs
        return self._once("consumer_eventhubs", self.backend.open_eventhubs)

    @property
    def eventgrid(self) -> EventGridStore:
        return self._once("eventgrid", self.backend.open_eventgrid)

    @property
    def documents(self) -> DocumentStore:
        return self._once("documents", self.backend.open_documents)

    def close(self) -> None:
        opened, self._opened = list(self._opened.values()), {}
        for store in reversed(opened):
            store.close()


class BackendPool:
    """The connections' stores of one process, keyed by (kind, address); ``close`` closes every store opened."""

    def __init__(self, data_dir: Path, clock: Clock = time.time, scope: str = "") -> None:
        self.data_dir = data_dir
        self._clock = clock
        self.scope = scope  # the host id: a server backend's host-scoped rows are this app's
        self._connections: dict[tuple[str, str], ConnectionStores] = {}

    def stores(self, kind: str, address: str = "") -> ConnectionStores:
        """The stores of the connection of ``kind`` at ``address`` (raises StoreError for an unusable kind)."""
        key = (kind, address)
        found = self._connections.get(key)
        if found is None:
            backend = open_backend(kind, BackendTarget(self.data_dir, address, self._clock, self.scope))
            found = self._connections[key] = ConnectionStores(backend)
        return found

    def readiness(self, interval: float = 1.0) -> Callable[[], bool]:
        """A cheap check for ``/runtime/health/ready``: whether every server this instance uses answered its last
        probe. Probes (``ping`` on a connection's state store; the embedded store has none) run on a thread at most
        every ``interval`` s, so the caller never waits on a network."""
        import threading

        status = {"ready": True, "checked": 0.0, "running": False}
        lock = threading.Lock()

        def probe() -> None:
            ok = True
            for stores in list(self._connections.values()):
                ping = getattr(stores.state, "ping", None) if stores.backend.reopens else None
                if ping is not None and not ping():
                    ok = False
            with lock:
                status["ready"], status["running"] = ok, False

        def ready() -> bool:
            with lock:
                due = not status["running"] and time.monotonic() - float(status["checked"]) >= interval
                if due:
                    status["running"], status["checked"] = True, time.monotonic()
            if due:
                threading.Thread(target=probe, name="overcast-store-probe", daemon=True).start()
            return bool(status["ready"])

        return ready

    def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for stores in connections:
            stores.close()
