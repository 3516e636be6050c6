"""Wake-ups by name: a write through this instance (an output binding, a poison move), or another instance's write
reported by a shared store (:mod:`overcast.backends.changes`, wired by ``Stores.watch``), wakes the listener waiting on
that name at once instead of at its next poll."""

from __future__ import annotations

import asyncio
import contextlib


def same_name(name: str) -> str:
    """The wake-up key of a change a store reports under the name its listeners wait on (a queue's name)."""
    return name


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event(self, name: str) -> asyncio.Event:
        event = self._events.get(name)
        if event is None:
            event = self._events[name] = asyncio.Event()
        return event

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def wake(self, name: str) -> None:
        """Safe from any thread (sync functions write outputs from the thread pool)."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._event(name).set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(lambda: self._event(name).set())

    def wake_all(self) -> None:
        """Wake every listener (anything may have changed: a store's reports had a gap). Safe from any thread."""
        loop = self._loop
        if loop is None:
            return

        def set_all() -> None:
            for event in list(self._events.values()):
                event.set()

        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(set_all)

    async def wait(self, name: str, timeout: float) -> None:
        event = self._event(name)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()
