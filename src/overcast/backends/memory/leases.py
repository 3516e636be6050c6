"""MemoryLeaseStore: expiring singleton leases for the threads of one process."""

from __future__ import annotations

import time

from overcast.backends.memory.common import Clock, MemoryStore
from overcast.backends.names import check_text, validate_lease


class MemoryLeaseStore(MemoryStore):
    kind = "lease store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._leases: dict[str, tuple[str, float]] = {}  # name -> (owner, expires)

    def acquire(self, name: str, owner: str, duration: float) -> bool:
        validate_lease(name, owner, duration)
        with self._open() as now:
            current = self._leases.get(name)
            if current is not None and current[0] != owner and current[1] > now:
                return False
            self._leases[name] = (owner, now + duration)
            return True

    def release(self, name: str, owner: str) -> None:
        check_text("Lease name", name)
        check_text(f"Owner of lease {name!r}:", owner)
        with self._open():
            current = self._leases.get(name)
            if current is not None and current[0] == owner:
                del self._leases[name]

    def holder(self, name: str) -> str | None:
        check_text("Lease name", name)
        with self._open() as now:
            current = self._leases.get(name)
            return current[0] if current is not None and current[1] > now else None
