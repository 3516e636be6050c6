"""LISTEN/NOTIFY wake-ups: another instance's write wakes this one's listeners within milliseconds.

Writers send ``pg_notify(channel, name)`` in the transaction that creates work (a queue message, a Service Bus
message, an event, a blob, a document, durable work); PostgreSQL delivers it at commit to every connection listening
on the channel, on every machine. Each store has its channel (``overcast_<store>``); the payload is the name the
listeners wait on (:mod:`overcast.backends.changes`), so it stays small.

One :class:`Listener` per database URL and process owns one dedicated connection and a daemon thread: it LISTENs to
the channels its subscribers asked for (a new one at once: a socket pair interrupts the wait) and calls them with each
payload. A lost connection is reopened with back-off, and every subscriber is then called once with
:data:`~overcast.backends.changes.EVERYTHING` (anything may have been written meanwhile); polling by the callers
stays the safety net, so a missed notification costs a poll interval, never a message.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from overcast.backends.changes import EVERYTHING, OnChange, Unwatch
from overcast.backends.postgresql.database import CONNECT_TIMEOUT_S, PostgresDatabase

_WAIT_S = 0.5  # the longest one wait lasts: bounds how late a stop is noticed
_MAX_BACKOFF_S = 2.0


class Listener:
    """The subscribers of one database's channels; ``subscribe`` returns the function that unsubscribes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[str, OnChange]] = {}
        self._next_id = 0
        self._listened: set[str] = set()  # the channels the current connection LISTENs to
        self._ready: dict[str, list[threading.Event]] = {}  # channels asked for, not yet listened to
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # each thread has its own: a new one never revives a stopping one
        self._poke_w: socket.socket | None = None  # interrupts the thread's wait (each thread has its own pair)

    def subscribe(self, channel: str, callback: OnChange) -> Unwatch:
        """Call ``callback(payload)`` for each notification on ``channel``; returns once the channel is listened to
        (or after a few seconds if the database is unreachable: the thread keeps trying, and the callers' polling
        covers the gap)."""
        listening = threading.Event()
        with self._lock:
            token = self._next_id
            self._next_id += 1
            self._subscribers[token] = (channel, callback)
            if channel in self._listened:
                listening.set()
            else:
                self._ready.setdefault(channel, []).append(listening)
            if self._thread is None:
                self._stop = stop = threading.Event()
                poke_r, self._poke_w = socket.socketpair()
                poke_r.setblocking(False)
                self._poke_w.setblocking(False)
                self._thread = threading.Thread(target=self._run, args=(stop, poke_r, self._poke_w),
                                                name="overcast-listen", daemon=True)
                self._thread.start()
        self._poke()
        listening.wait(CONNECT_TIMEOUT_S)

        def unsubscribe() -> None:
            with self._lock:
                if self._subscribers.pop(token, None) is None or self._subscribers:
                    return
                thread, self._thread = self._thread, None
                poke, self._poke_w = self._poke_w, None
                self._listened = set()  # the next thread's connection listens to nothing yet
                self._stop.set()
            if poke is not None:
                with contextlib.suppress(OSError):
                    poke.send(b"x")
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=_WAIT_S * 4)

        return unsubscribe

    def _poke(self) -> None:
        poke = self._poke_w
        if poke is not None:
            with contextlib.suppress(OSError):  # full (the thread is woken already) or closed (it ended)
                poke.send(b"x")

    def _call(self, channel: str | None, payload: str) -> None:
        """Calls the subscribers of ``channel`` (of every channel when None)."""
        with self._lock:
            callbacks = [cb for ch, cb in self._subscribers.values() if channel is None or ch == channel]
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a subscriber's failure must not end the others' wake-ups
                callback(payload)

    def _listen_new(self, conn: psycopg.Connection[Any], stop: threading.Event) -> None:
        with self._lock:
            wanted = [ch for ch in self._ready if ch not in self._listened]
        for channel in wanted:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        with self._lock:
            if stop.is_set():
                return  # a stopped thread's connection no longer counts
            self._listened.update(wanted)
            for channel in [ch for ch in self._ready if ch in self._listened]:
                for event in self._ready.pop(channel):
                    event.set()

    def _run(self, stop: threading.Event, poke_r: socket.socket, poke_w: socket.socket) -> None:
        try:
            self._connect_and_serve(stop, poke_r)
        finally:
            poke_r.close()
            poke_w.close()

    def _connect_and_serve(self, stop: threading.Event, poke_r: socket.socket) -> None:
        backoff = 0.1
        first = True
        while not stop.is_set():
            try:
                # Named after the process, so an operator (or a test) can tell which connection listens for whom.
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                     application_name=f"overcast-listen-{os.getpid()}") as conn:
                    with self._lock:  # a new connection listens to nothing yet: every channel is asked for again
                        for channel in self._listened:
                            self._ready.setdefault(channel, [])
                        self._listened = set()
                    self._listen_new(conn, stop)
                    backoff = 0.1
                    if not first:
                        self._call(None, EVERYTHING)  # reconnected: anything may have been written meanwhile
                    first = False
                    self._serve(conn, stop, poke_r)
            except psycopg.Error:
                first = False
                if stop.wait(backoff):
                    return
                backoff = min(_MAX_BACKOFF_S, backoff * 2)

    def _serve(self, conn: psycopg.Connection[Any], stop: threading.Event, poke_r: socket.socket) -> None:
        poke = poke_r.fileno()
        while not stop.is_set():
            readable, _, _ = select.select([conn.fileno(), poke], [], [], _WAIT_S)
            if poke in readable:
                with contextlib.suppress(OSError):
                    while poke_r.recv(4096):
                        pass
                self._listen_new(conn, stop)
            # timeout=0 reads what arrived (and what came in with the LISTENs' answers) without waiting.
            for note in conn.notifies(timeout=0):
                if stop.is_set():
                    return
                self._call(note.channel, note.payload)


_registry: dict[tuple[int, str], Listener] = {}
_registry_lock = threading.Lock()


def listener(url: str) -> Listener:
    """The process's one LISTEN connection to the database of ``url`` (a forked child gets its own: the parent's
    thread did not come along)."""
    key = (os.getpid(), url)
    with _registry_lock:
        found = _registry.get(key)
        if found is None:
            found = _registry[key] = Listener(url)
        return found


def notify(conn: psycopg.Connection[Any], channel: str, name: str) -> None:
    """Report a write under ``name`` on ``channel``, in the caller's transaction (delivered at its commit; repeats
    of one payload in one transaction are delivered once)."""
    conn.execute("SELECT pg_notify(%s, %s)", (channel, name))


class NotifyingStore(PostgresDatabase):
    """A PostgreSQL store whose writes are reported on its ``channel``: implements
    :class:`~overcast.backends.changes.ChangeSource`. ``close`` ends the watches still in place."""

    channel: ClassVar[str]

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._unwatch: list[Unwatch] = []

    def watch_changes(self, on_change: OnChange) -> Unwatch:
        stop = listener(self.url).subscribe(self.channel, on_change)
        self._unwatch.append(stop)
        return stop

    def _changed(self, conn: psycopg.Connection[Any], name: str) -> None:
        notify(conn, self.channel, name)

    def close(self) -> None:
        unwatch, self._unwatch = self._unwatch, []
        for stop in unwatch:
            stop()  # a second call (the caller's own) does nothing
        super().close()

