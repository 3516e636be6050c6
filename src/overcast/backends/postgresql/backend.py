"""The PostgreSQL backend: every store of a ``postgresql://`` connection in one database, shared by instances on
many machines. Each store opens its own connection (a store's calls hold its lock, so two stores never queue behind
each other); the schema is created or migrated by the first store a process opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.base import BlobStore, LeaseStore, QueueBackend, StateStore, TableStore

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


class PostgresBackend:
    kind = "postgresql"
    reopens = True
    durable_calls_inline = False  # every call is a network round trip: the engine runs them on its threads

    def __init__(self, target: BackendTarget) -> None:
        self.target = target
        self.url = target.connection

    def schema_status(self) -> tuple[str, int, int]:
        """(schema, version applied, latest version) without changing anything (``overcast db status``)."""
        from overcast.backends.postgresql.database import connect
        from overcast.backends.postgresql.schema import status

        with connect(self.url) as conn:
            return status(conn, self.url)

    def migrate(self) -> list[int]:
        """Apply the missing versions now, under the advisory lock (``overcast db migrate``); those applied."""
        from overcast.backends.postgresql.database import connect
        from overcast.backends.postgresql.schema import migrate_now

        with connect(self.url) as conn:
            return migrate_now(conn, self.url)

    def open_state(self) -> StateStore:
        from overcast.backends.postgresql.state import PostgresStateStore

        return PostgresStateStore(self.url, self.target.scope)

    def open_queues(self) -> QueueBackend:
        from overcast.backends.postgresql.queues import PostgresQueueStore

        return PostgresQueueStore(self.url, self.target.clock)

    def open_blobs(self) -> BlobStore:
        from overcast.backends.postgresql.blobs import PostgresBlobStore

        return PostgresBlobStore(self.url, self.target.clock)

    def open_blob_api(self) -> BlobApiStore:
        from overcast.backends.postgresql.blob_api import PostgresBlobApiStore

        return PostgresBlobApiStore(self.url, self.target.clock)

    def open_tables(self) -> TableStore:
        from overcast.backends.postgresql.tables import PostgresTableStore

        return PostgresTableStore(self.url, self.target.clock)

    def open_leases(self) -> LeaseStore:
        from overcast.backends.postgresql.leases import PostgresLeaseStore

        return PostgresLeaseStore(self.url, self.target.clock, self.target.scope)

    def open_queue_service(self) -> QueueServiceStore:
        from overcast.backends.postgresql.queue_service import PostgresQueueService

        return PostgresQueueService(self.url, self.target.clock)

    def open_table_service(self) -> TableServiceStore:
        from overcast.backends.postgresql.table_service import PostgresTableService

        return PostgresTableService(self.url, self.target.clock)

    def open_durable(self) -> DurableStore:
        from overcast.durable.store.backends.postgresql import PostgresDurableStore

        return PostgresDurableStore(self.url, self.target.clock)

    def open_servicebus(self) -> ServiceBusBackend:
        from overcast.backends.postgresql.servicebus import PostgresServiceBusStore

        return PostgresServiceBusStore(self.url, self.target.clock)

    def open_eventhubs(self) -> EventHubsStore:
        from overcast.backends.postgresql.eventhubs import PostgresEventHubsStore

        return PostgresEventHubsStore(self.url, self.target.clock)

    def open_eventgrid(self) -> EventGridStore:
        from overcast.backends.postgresql.eventgrid import PostgresEventGridStore

        return PostgresEventGridStore(self.url, self.target.clock)

    def open_documents(self) -> DocumentStore:
        from overcast.backends.postgresql.documents import PostgresDocumentStore

        return PostgresDocumentStore(self.url, self.target.clock)
