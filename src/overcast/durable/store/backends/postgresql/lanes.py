"""A few connections per durable store, so one process's store calls overlap instead of queueing on one connection.

The engine runs episodes, activity claims and completions on several threads at once. On one connection each of
them waited for the others' round trips and, worse, for their commits' WAL flushes one after another; on a few
connections their transactions run side by side and PostgreSQL flushes the WAL of commits that arrive together once
(group commit). Each lane is a :class:`PostgresDatabase` of its own (lazy reconnection with back-off, rollback on any
failure); the first is the store itself, the others are opened only when every open lane is busy, up to
``POOL_SIZE``. A call made while its thread already holds a lane (a nested store call) gets that same lane: the same
connection and the same transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from overcast.backends.postgresql.database import PostgresDatabase
from overcast.errors import StoreError

POOL_SIZE = 4  # connections per durable store (per process): 8 episodes in flight rarely need more at once


class _Lane(PostgresDatabase):
    kind = "durable store"


class LanedDatabase(PostgresDatabase):
    """A PostgresDatabase whose ``_connection`` takes a free lane (connection) of at most ``POOL_SIZE``."""

    def __init__(self, url: str) -> None:
        self._lanes_ready = threading.Condition(threading.Lock())
        self._free: list[PostgresDatabase] = []
        self._lane_count = 0
        self._held = threading.local()
        super().__init__(url)  # opens the first lane's connection: a bad URL is reported at open, as before
        self._free.append(self)
        self._lane_count = 1

    def _take(self) -> PostgresDatabase:
        with self._lanes_ready:
            while True:
                if self._free:
                    return self._free.pop()  # the most recently used: a quiet process keeps one connection busy
                if self._lane_count < POOL_SIZE:
                    self._lane_count += 1
                    break
                self._lanes_ready.wait()
        try:
            return _Lane(self.url)
        except BaseException:
            with self._lanes_ready:
                self._lane_count -= 1
                self._lanes_ready.notify()
            raise

    def _give_back(self, lane: PostgresDatabase) -> None:
        with self._lanes_ready:
            if not self._closed or lane is self:
                self._free.append(lane)
                self._lanes_ready.notify()
                return
        lane.close()  # the store was closed while this call ran

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        held: PostgresDatabase | None = getattr(self._held, "lane", None)
        if held is not None:  # nested in a call of this thread: its connection, its transaction
            with PostgresDatabase._connection(held, action) as conn:
                yield conn
            return
        if self._closed:
            raise StoreError(f"PostgreSQL {self.kind} at {self.where} is closed; open it again to use it.")
        lane = self._take()
        self._held.lane = lane
        try:
            with PostgresDatabase._connection(lane, action) as conn:
                yield conn
        finally:
            self._held.lane = None
            self._give_back(lane)

    def close(self) -> None:
        with self._lanes_ready:
            self._closed = True  # lanes in use now are closed when given back
            lanes = [lane for lane in self._free if lane is not self]
            self._free = [self]
        for lane in lanes:
            lane.close()
        super().close()
