"""Changes made by other instances: how a store shared by several instances tells this one "something changed under
name X", so the listener waiting on X looks at once instead of at its next poll.

Every store Protocol whose writes a trigger listener waits for includes :class:`ChangeSource`. What a name is
depends on the store: a queue's name (storage queues), an entity's path (Service Bus: a queue, topic or
subscription), ``<hub>/<partition id>`` (Event Hubs, the hub in lower case), a topic (Event Grid), a container (blobs)
and ``<database>/<container>`` (Cosmos DB documents). :data:`EVERYTHING` says that anything may have changed (after
a gap in the reports, such as a lost connection): every listener then looks once.

- PostgreSQL stores send ``NOTIFY`` in the transaction of each write (:mod:`overcast.backends.postgresql.notify`),
  delivered at commit to every instance listening, on every machine.
- Memory stores (:class:`HeardInProcess`) live in one process: every write to them goes through that process, whose
  in-process wake-ups (:mod:`overcast.triggers.wakeup`) already tell its listeners.
- SQLite stores (:class:`HeardInProcess` too) are shared by processes on one machine, which see each other's writes
  at their next poll: ``PRAGMA data_version`` changes with any write to the one database file (every store, this
  process's own connections included), so it cannot say which listener should look.

Polling stays the safety net everywhere: a report lost costs a poll interval, never a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

EVERYTHING = ""  # the name reported when anything may have changed: every listener looks once
OnChange = Callable[[str], None]
Unwatch = Callable[[], None]


class ChangeSource(Protocol):
    def watch_changes(self, on_change: OnChange) -> Unwatch:
        """Call ``on_change(name)`` (from another thread; it must not block) after an instance committed a write
        under ``name`` this store's listeners wait for, until the returned function is called or the store is
        closed. Returns once the watch is in place (or after a few seconds if the server is unreachable)."""
        ...


def _nothing_to_stop() -> None:
    return None


class HeardInProcess:
    """A store whose listeners hear of other processes' writes only by polling (see the module's docstring)."""

    def watch_changes(self, on_change: OnChange) -> Unwatch:
        return _nothing_to_stop
