"""PostgresLeaseStore: expiring singleton leases (timers, blob scans), one owner at a time across machines."""

from __future__ import annotations

import time

from overcast.backends.base import Clock
from overcast.backends.names import check_text, validate_lease
from overcast.backends.postgresql.database import PostgresDatabase


class PostgresLeaseStore(PostgresDatabase):
    """Implements LeaseStore; ``scope`` (the host id) keeps two apps' timers apart."""

    kind = "lease store"

    def __init__(self, url: str, clock: Clock = time.time, scope: str = "") -> None:
        super().__init__(url)
        self._clock = clock
        self.scope = scope

    def acquire(self, name: str, owner: str, duration: float) -> bool:
        validate_lease(name, owner, duration)
        with self._connection(f"acquire lease {name!r}") as conn:
            now = self._clock()
            # One statement, so atomic across instances: insert, or take over when the lease expired or is ours.
            cursor = conn.execute(
                "INSERT INTO leases (scope, name, owner, expires) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (scope, name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
                "WHERE leases.owner = excluded.owner OR leases.expires <= %s",
                (self.scope, name, owner, now + duration, now),
            )
        return cursor.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        check_text("Lease name", name)
        check_text(f"Owner of lease {name!r}:", owner)
        with self._connection(f"release lease {name!r}") as conn:
            conn.execute("DELETE FROM leases WHERE scope = %s AND name = %s AND owner = %s", (self.scope, name, owner))

    def holder(self, name: str) -> str | None:
        check_text("Lease name", name)
        with self._connection(f"read lease {name!r}") as conn:
            row = conn.execute(
                "SELECT owner FROM leases WHERE scope = %s AND name = %s AND expires > %s",
                (self.scope, name, self._clock()),
            ).fetchone()
        return None if row is None else str(row[0])
