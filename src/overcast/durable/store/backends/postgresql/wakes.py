"""Waking the other instances' engines: one NOTIFY per task hub per ``GAP`` at most, sent after the commits it
announces, from a thread of its own.

A NOTIFY inside a transaction makes its commit take a lock that every notifying commit of the server shares, held
through the commit's WAL flush: commits that notify are flushed one at a time, never together. With every episode and
every activity completion notifying, that lock was where a busy hub's commits queued. So the store's transactions no
longer notify; after its commit, a call that gave a worker something to do asks this sender to wake the others, and
the sender sends one NOTIFY for all the requests that arrived since its last one. Work committed during the gap is
announced at its end, so an idle instance hears of new work at most ``GAP`` later than before; a busy one does not
wait for wake-ups anyway (it looks again after every batch). A wake-up lost with a crash or a failed send costs a
poll interval, never a message: the work is in the tables, and every engine polls.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

GAP = 0.01  # s between two wake-ups sent by one process (at most 100 NOTIFY transactions a second)


class WakeSender:
    """Coalesces wake-up requests per hub; ``send(hubs)`` is called from the sender's thread."""

    def __init__(self, send: Callable[[Sequence[str]], None], gap: float = GAP) -> None:
        self._send = send
        self._gap = gap
        self._ready = threading.Condition(threading.Lock())
        self._pending: set[str] = set()
        self._closed = False
        self._thread: threading.Thread | None = None

    def request(self, hub: str) -> None:
        """Wake the other instances of ``hub`` soon (call after the commit that wrote the work)."""
        with self._ready:
            if self._closed:
                return
            self._pending.add(hub)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="overcast-durable-wakes", daemon=True)
                self._thread.start()
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                hubs = sorted(self._pending)
                self._pending.clear()
            with contextlib.suppress(Exception):  # a failed wake-up costs a poll interval (see the module)
                self._send(hubs)
            with self._ready:
                if self._ready.wait_for(lambda: self._closed, self._gap):
                    return

    def close(self) -> None:
        """Stop the thread; wake-ups still pending are sent now (a CLI that created an instance and exits)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            thread, self._thread = self._thread, None
            hubs = sorted(self._pending)
            self._pending.clear()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        if hubs:
            with contextlib.suppress(Exception):
                self._send(hubs)
