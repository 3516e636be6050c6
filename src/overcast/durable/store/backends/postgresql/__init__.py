"""PostgresDurableStore: the DurableStore on PostgreSQL, shared by instances on many machines.

Split by concept as the SQLite store: :mod:`.base` (the shared writes, the hub lock, the lease claim),
:mod:`.instances` (create, read, list, purge), :mod:`.orchestrations` (inboxes, leases, the episode commit),
:mod:`.work` (activities, entities). The tables are created by :mod:`overcast.backends.postgresql.schema`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.durable.store.backends.postgresql.instances import InstanceTables
from overcast.durable.store.backends.postgresql.orchestrations import OrchestrationTables
from overcast.durable.store.backends.postgresql.work import WorkTables

__all__ = ["PostgresDurableStore"]


class PostgresDurableStore(InstanceTables, OrchestrationTables, WorkTables):
    """Implements DurableStore over a few connections (:mod:`.lanes`); open one per process.

    Every multi-step write is one transaction (under the hub's advisory lock where it reads before writing), so
    instances on many machines share a task hub safely, and an instance killed at any moment leaves either all of a
    commit or none of it.
    """


if TYPE_CHECKING:
    from overcast.durable.store import DurableStore

    def _implements(store: PostgresDurableStore) -> DurableStore:
        """Never called: mypy checks here that the class implements the protocol."""
        return store
