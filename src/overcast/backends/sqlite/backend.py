"""The embedded backend: every store in ``<data_dir>/overcast.db`` (SQLite, WAL), blob contents beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.base import BlobStore, LeaseStore, QueueBackend, StateStore, TableStore
from overcast.backends.datadir import database_in

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


class SqliteBackend:
    """Opens a new connection per store: several stores of one process never wait behind each other's lock."""

    kind = "embedded"
    reopens = True
    durable_calls_inline = True  # a local transaction takes well under a millisecond: less than a thread hop

    def __init__(self, target: BackendTarget) -> None:
        self.target = target

    def open_state(self) -> StateStore:
        from overcast.backends.sqlite.state import SqliteStateStore

        return SqliteStateStore(database_in(self.target.data_dir))

    def open_queues(self) -> QueueBackend:
        from overcast.backends.sqlite.queues import SqliteQueueStore

        return SqliteQueueStore(database_in(self.target.data_dir), self.target.clock)

    def open_blobs(self) -> BlobStore:
        from overcast.backends.sqlite.blobs import SqliteBlobStore

        data_dir = self.target.data_dir
        return SqliteBlobStore(database_in(data_dir), data_dir / "blobs", self.target.clock)

    def open_blob_api(self) -> BlobApiStore:
        from overcast.backends.sqlite.blob_api import SqliteBlobApiStore

        data_dir = self.target.data_dir
        return SqliteBlobApiStore(database_in(data_dir), data_dir / "blobs", self.target.clock)

    def open_tables(self) -> TableStore:
        from overcast.backends.sqlite.tables import SqliteTableStore

        return SqliteTableStore(database_in(self.target.data_dir), self.target.clock)

    def open_leases(self) -> LeaseStore:
        from overcast.backends.sqlite.leases import SqliteLeaseStore

        return SqliteLeaseStore(database_in(self.target.data_dir), self.target.clock)

    def open_queue_service(self) -> QueueServiceStore:
        from overcast.backends.sqlite.queue_service import SqliteQueueService

        return SqliteQueueService(database_in(self.target.data_dir), self.target.clock)

    def open_table_service(self) -> TableServiceStore:
        from overcast.backends.sqlite.table_service import SqliteTableService

        return SqliteTableService(database_in(self.target.data_dir), self.target.clock)

    def open_durable(self) -> DurableStore:
        from overcast.durable.store.backends.sqlite import SqliteDurableStore

        return SqliteDurableStore(database_in(self.target.data_dir), self.target.clock)

    def open_servicebus(self) -> ServiceBusBackend:
        from overcast.backends.sqlite.servicebus import SqliteServiceBusStore

        return SqliteServiceBusStore(database_in(self.target.data_dir), self.target.clock)

    def open_eventhubs(self) -> EventHubsStore:
        from overcast.backends.sqlite.eventhubs import SqliteEventHubsStore

        return SqliteEventHubsStore(database_in(self.target.data_dir), self.target.clock)

    def open_eventgrid(self) -> EventGridStore:
        from overcast.backends.sqlite.eventgrid import SqliteEventGridStore

        return SqliteEventGridStore(database_in(self.target.data_dir), self.target.clock)

    def open_documents(self) -> DocumentStore:
        from overcast.backends.sqlite.documents import SqliteDocumentStore

        return SqliteDocumentStore(database_in(self.target.data_dir), self.target.clock)
