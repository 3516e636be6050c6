"""SqliteDurableStore: the DurableStore in ``<data dir>/overcast.db``, shared by every instance process.

Split by concept: :mod:`.base` (tables, shared writes, the lease claim), :mod:`.instances` (create, read, list,
purge), :mod:`.orchestrations` (inboxes, leases, the episode commit), :mod:`.work` (activities, entities).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.durable.store.backends.sqlite.base import DURABLE_SCHEMA
from overcast.durable.store.backends.sqlite.instances import InstanceTables
from overcast.durable.store.backends.sqlite.orchestrations import OrchestrationTables
from overcast.durable.store.backends.sqlite.work import WorkTables

__all__ = ["DURABLE_SCHEMA", "SqliteDurableStore"]


class SqliteDurableStore(InstanceTables, OrchestrationTables, WorkTables):
    """Implements DurableStore over one connection (and lock); open one per process, as the other SQLite stores.

    Every multi-step write is one ``BEGIN IMMEDIATE`` transaction, so several processes share a task hub safely,
    and a process killed at any moment leaves either all of a commit or none of it.
    """


if TYPE_CHECKING:
    from overcast.durable.store import DurableStore

    def _implements(store: SqliteDurableStore) -> DurableStore:
        """Never called: mypy checks here that the class implements the protocol."""
        return store
