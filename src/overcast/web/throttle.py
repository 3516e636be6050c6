"""host.json ``maxConcurrentRequests`` / ``maxOutstandingRequests``: a request queue that answers 429."""

from __future__ import annotations

import asyncio


class Throttle:
    """Outstanding = queued + executing; over ``max_outstanding`` → reject. Concurrency bounded by a semaphore."""

    def __init__(self, max_concurrent: int, max_outstanding: int) -> None:
        self.enabled = max_concurrent > 0 or max_outstanding > 0
        self._max_outstanding = max_outstanding if max_outstanding > 0 else None
        self._semaphore = asyncio.Semaphore(max_concurrent) if max_concurrent > 0 else None
        self.outstanding = 0

    def try_enter(self) -> bool:
        if self._max_outstanding is not None and self.outstanding >= self._max_outstanding:
            return False
        self.outstanding += 1
        return True

    def leave(self) -> None:
        self.outstanding -= 1

    async def acquire(self) -> None:
        if self._semaphore is not None:
            await self._semaphore.acquire()

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
