"""PostgresServiceBusStore: Service Bus entities and messages on PostgreSQL, shared by instances on many machines.

The statements are the shared :class:`~overcast.backends.sql.servicebus.ServiceBusCore`'s. Every receive and
settlement is one transaction holding its entity's advisory lock (for one entity, the same guarantee as the SQLite
store's ``BEGIN IMMEDIATE``), so two instances never lock the same message or session; sends and entity changes hold
the Service Bus lock; reads and the idle probe run without either. A send (and an abandon or resubmit) sends
``NOTIFY`` on ``overcast_servicebus`` in its transaction. The tables are created by
:mod:`overcast.backends.postgresql.schema` (version 2).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from overcast.backends.base import Clock
from overcast.backends.postgresql.notify import NotifyingStore
from overcast.backends.sql.servicebus import ServiceBusCore

Conn = psycopg.Connection[Any]


class PostgresServiceBusStore(NotifyingStore, ServiceBusCore[Conn]):
    """Implements ServiceBusBackend. One connection and lock per store; open one per process."""

    kind = "Service Bus store"
    channel = "overcast_servicebus"
    placeholder = "%s"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def _begin_write(self, conn: Conn, name: str) -> None:
        """A transaction holding the Service Bus lock: writers run one at a time, as SQLite's BEGIN IMMEDIATE."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
