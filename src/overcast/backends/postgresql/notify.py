"""LISTEN/NOTIFY wake-ups: another instance's write wakes this one's listeners within milliseconds.

Writers send ``pg_notify(channel, payload)`` in the transaction that creates work (a queue message, a durable
message or activity); PostgreSQL delivers it at commit to every connection listening on the channel, on every
machine. One :class:`Notifications` per (URL, channel) and process owns a dedicated connection and a daemon thread
that waits for notifications and calls the subscribers with the payload. A lost connection is reopened with back-off
and every subscriber is called once after it (something may have happened meanwhile); polling by the callers stays
the safety net, so a missed notification costs a poll interval, never a message.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

from overcast.backends.postgresql.database import CONNECT_TIMEOUT_S

Callback = Callable[[str], None]
_WAIT_S = 0.5  # how long one wait for notifications lasts: bounds how late a stop or a reconnect is noticed
_MAX_BACKOFF_S = 2.0


class Notifications:
    """Subscribers of one channel of one database; ``subscribe`` returns the function that unsubscribes."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self._lock = threading.Lock()
        self._subscribers: dict[int, Callback] = {}
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # each thread has its own: a new one never revives a stopping one

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Add ``callback``; returns once the channel is listened to (or after a few seconds if the database is
        unreachable: the thread keeps trying, and the callers' polling covers the gap)."""
        with self._lock:
            token = self._next_id
            self._next_id += 1
            self._subscribers[token] = callback
            listening = None
            if self._thread is None:
                self._stop = stop = threading.Event()
                listening = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(stop, listening),
                                                name=f"overcast-listen-{self.channel}", daemon=True)
                self._thread.start()
        if listening is not None:
            listening.wait(CONNECT_TIMEOUT_S)

        def unsubscribe() -> None:
            with self._lock:
                if self._subscribers.pop(token, None) is None or self._subscribers:
                    return
                thread, self._thread = self._thread, None
                self._stop.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=_WAIT_S * 4)

        return unsubscribe

    def _call(self, payload: str) -> None:
        with self._lock:
            callbacks = list(self._subscribers.values())
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a subscriber's failure must not end the others' wake-ups
                callback(payload)

    def _run(self, stop: threading.Event, listening: threading.Event) -> None:
        backoff = 0.1
        first = True
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    listening.set()
                    backoff = 0.1
                    if not first:
                        self._call("")  # reconnected: anything may have been written meanwhile
                    first = False
                    while not stop.is_set():
                        for note in conn.notifies(timeout=_WAIT_S):
                            if stop.is_set():
                                return
                            self._call(note.payload)
            except psycopg.Error:
                first = False
                if stop.wait(backoff):
                    return
                backoff = min(_MAX_BACKOFF_S, backoff * 2)


_registry: dict[tuple[str, str], Notifications] = {}
_registry_lock = threading.Lock()


def notifications(url: str, channel: str) -> Notifications:
    """The process's one listener of ``channel`` on the database of ``url``."""
    with _registry_lock:
        found = _registry.get((url, channel))
        if found is None:
            found = _registry[(url, channel)] = Notifications(url, channel)
        return found
