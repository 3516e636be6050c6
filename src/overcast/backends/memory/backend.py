"""The in-memory backend: stores that live in this process only (tests, single-process tools)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.base import BlobStore, LeaseStore, QueueBackend, StateStore, TableStore
from overcast.backends.memory.blobs import MemoryBlobStore
from overcast.backends.memory.leases import MemoryLeaseStore
from overcast.backends.memory.queues import MemoryQueueStore
from overcast.backends.memory.state import MemoryStateStore
from overcast.backends.memory.tables import MemoryTableStore

if TYPE_CHECKING:
    from overcast.backends.base import BackendTarget
    from overcast.backends.blob_api_store import BlobApiStore
    from overcast.backends.documents_store import DocumentStore
    from overcast.backends.eventgrid_store import EventGridStore
    from overcast.backends.eventhubs_store import EventHubsStore
    from overcast.backends.queue_service_store import QueueServiceStore
    from overcast.backends.servicebus_store import ServiceBusBackend
    from overcast.backends.table_service_store import TableServiceStore
    from overcast.durable.store import DurableStore


class MemoryBackend:
    """Each ``open_*`` is a new, empty store: its data lives in the object (``reopens`` is False)."""

    kind = "memory"
    reopens = False
    durable_calls_inline = True

    def __init__(self, target: BackendTarget) -> None:
        self.target = target

    def open_state(self) -> StateStore:
        return MemoryStateStore()

    def open_queues(self) -> QueueBackend:
        return MemoryQueueStore(self.target.clock)

    def open_blobs(self) -> BlobStore:
        return MemoryBlobStore(self.target.clock)

    def open_blob_api(self) -> BlobApiStore:
        from overcast.backends.memory.blob_api import MemoryBlobApiStore

        return MemoryBlobApiStore(self.target.clock)

    def open_tables(self) -> TableStore:
        return MemoryTableStore(self.target.clock)

    def open_leases(self) -> LeaseStore:
        return MemoryLeaseStore(self.target.clock)

    def open_queue_service(self) -> QueueServiceStore:
        from overcast.backends.memory.queue_service import MemoryQueueService

        return MemoryQueueService(self.target.clock)

    def open_table_service(self) -> TableServiceStore:
        from overcast.backends.memory.table_service import MemoryTableService

        return MemoryTableService(self.target.clock)

    def open_durable(self) -> DurableStore:
        from overcast.durable.store.backends.memory import MemoryDurableStore

        return MemoryDurableStore(self.target.clock)

    def open_servicebus(self) -> ServiceBusBackend:
        from overcast.backends.memory.servicebus import MemoryServiceBusStore

        return MemoryServiceBusStore(self.target.clock)

    def open_eventhubs(self) -> EventHubsStore:
        from overcast.backends.memory.eventhubs import MemoryEventHubsStore

        return MemoryEventHubsStore(self.target.clock)

    def open_eventgrid(self) -> EventGridStore:
        from overcast.backends.memory.eventgrid import MemoryEventGridStore

        return MemoryEventGridStore(self.target.clock)

    def open_documents(self) -> DocumentStore:
        from overcast.backends.memory.documents import MemoryDocumentStore

        return MemoryDocumentStore(self.target.clock)
