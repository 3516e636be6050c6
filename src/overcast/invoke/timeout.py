"""functionTimeout enforcement without a timer per invocation.

A single checker task wakes a few times per second and cancels invocations past their deadline. For the
30-minute default (and any timeout of a second or more) that precision is ample, and the hot path pays only a
dict insert and delete instead of a timer handle or a wrapper task per call.
"""

from __future__ import annotations

import asyncio
import time


class Watchdog:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._checker: asyncio.Task[None] | None = None
        self._tick = min(0.25, max(timeout / 8, 0.01))

    def track(self, task: asyncio.Task[object]) -> None:
        self._deadlines[task] = time.monotonic() + self.timeout
        if self._checker is None or self._checker.done():
            self._checker = asyncio.get_running_loop().create_task(self._check())

    def untrack(self, task: asyncio.Task[object]) -> bool:
        """Stop watching ``task``; True when the watchdog is the one that cancelled it."""
        self._deadlines.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    async def _check(self) -> None:
        while self._deadlines:
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if now >= deadline and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()
