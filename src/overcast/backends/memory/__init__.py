"""In-process stores: for tests and single-process runs that need no persistence. Each is thread-safe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.memory.backend import MemoryBackend
from overcast.backends.memory.blobs import MemoryBlobStore
from overcast.backends.memory.leases import MemoryLeaseStore
from overcast.backends.memory.queues import MemoryQueueStore
from overcast.backends.memory.state import MemoryStateStore
from overcast.backends.memory.tables import MemoryTableStore

__all__ = [
    "MemoryBackend", "MemoryBlobStore", "MemoryLeaseStore", "MemoryQueueStore", "MemoryStateStore", "MemoryTableStore",
]

if TYPE_CHECKING:
    from overcast.backends.base import BlobStore, LeaseStore, QueueBackend, StateStore, StorageBackend, TableStore

    def _implements(
        queues: MemoryQueueStore, blobs: MemoryBlobStore, tables: MemoryTableStore, leases: MemoryLeaseStore,
        state: MemoryStateStore,
    ) -> tuple[QueueBackend, BlobStore, TableStore, LeaseStore, StateStore]:
        """Never called: mypy checks here that each in-memory store implements its protocol."""
        return queues, blobs, tables, leases, state

    def _is_backend(backend: MemoryBackend) -> StorageBackend:
        """Never called: mypy checks here that the backend class implements the registry's protocol."""
        return backend
