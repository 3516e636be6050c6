"""SqliteLeaseStore: expiring singleton leases in ``overcast.db`` (one owner at a time across processes)."""

from __future__ import annotations

import time
from pathlib import Path

from overcast.backends.base import Clock
from overcast.backends.names import check_text, validate_lease
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase

LEASE_SCHEMA = ["CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)"]


class SqliteLeaseStore(SqliteDatabase):
    """Implements LeaseStore."""

    kind = "lease store"

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *LEASE_SCHEMA])
        self._clock = clock

    def acquire(self, name: str, owner: str, duration: float) -> bool:
        validate_lease(name, owner, duration)
        with self._connection(f"acquire lease {name!r}") as conn:
            now = self._clock()
            # One statement, so atomic across processes: insert, or take over when the lease expired or is ours.
            cursor = conn.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "owner = excluded.owner, expires = excluded.expires WHERE leases.owner = excluded.owner "
                "OR leases.expires <= ?",
                (name, owner, now + duration, now),
            )
        return cursor.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        check_text("Lease name", name)
        check_text(f"Owner of lease {name!r}:", owner)
        with self._connection(f"release lease {name!r}") as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def holder(self, name: str) -> str | None:
        check_text("Lease name", name)
        with self._connection(f"read lease {name!r}") as conn:
            query = "SELECT owner FROM leases WHERE name = ? AND expires > ?"
            row = conn.execute(query, (name, self._clock())).fetchone()
        return None if row is None else str(row[0])
