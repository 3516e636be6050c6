"""Session-enabled Service Bus triggers: ``maxConcurrentSessions`` receivers, each holding one session at a time.

A receiver accepts the session whose oldest message is oldest (the store locks it: no other receiver, in this or
another instance, gets its messages), then runs its messages one after the other in sequence order (a batch at a
time with ``cardinality: many``), renewing the session lock and the running message's lock every half lock. A
failed message is abandoned, so it is the session's next message again: order holds until the store dead-letters it
at the max delivery count. After ``sessionIdleTimeout`` without a message the receiver releases the session and
accepts another.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from overcast.backends.servicebus_store import BusMessage, ServiceBusBackend, SessionLock
from overcast.errors import InputError, StoreError
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers.loop import MIN_POLL
from overcast.triggers.servicebus import UNREADABLE, ServiceBusMessages, wake_key
from overcast.triggers.servicebus_options import ServiceBusOptions
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.servicebus")


class SessionListener:
    """Receivers of one session-enabled queue or subscription; ``run`` / ``stop`` / ``drain`` as every listener."""

    def __init__(self, path: str, store: ServiceBusBackend, io: Callable[..., Awaitable[Any]],
                 handler: ServiceBusMessages, invoke: Callable[[Invocation], Awaitable[Result]],
                 options: ServiceBusOptions, wakeups: Wakeups, lock_duration: float, many: bool,
                 auto_complete: bool) -> None:
        self.path = path
        self._store = store
        self._io = io
        self._handler = handler
        self._invoke = invoke
        self._options = options
        self._wakeups = wakeups
        self._lock_duration = lock_duration
        self._many = many
        self._auto_complete = auto_complete
        self._key = wake_key(path)
        self._stopping = False
        self._busy: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return self.path

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(self._key)

    async def drain(self) -> None:
        if self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)

    async def run(self) -> None:
        receivers = [asyncio.get_running_loop().create_task(self._receiver())
                     for _ in range(self._options.max_concurrent_sessions)]
        await asyncio.gather(*receivers, return_exceptions=True)

    async def _receiver(self) -> None:
        delay = MIN_POLL
        while not self._stopping:
            try:
                lock = await self._io(self._store.accept_session, self.path)
            except Exception:
                log.exception("Accepting a session of '%s' failed; retrying in %.1f s.", self.path, delay)
                lock = None
            if lock is None:
                await self._wakeups.wait(self._key, delay)
                delay = min(self._options.max_polling_interval, MIN_POLL + random.uniform(0.8, 1.2) * delay * 2)
                continue
            delay = MIN_POLL
            task = asyncio.get_running_loop().create_task(self._hold(lock))
            self._busy.add(task)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Session '%s' of '%s' failed; it is released.", lock.session_id, self.path)
            finally:
                self._busy.discard(task)

    async def _hold(self, lock: SessionLock) -> None:
        """Run the session's messages until it is idle for sessionIdleTimeout (or the lock is lost)."""
        state: dict[str, Any] = {"lock": lock, "tokens": [], "lost": False}
        renewer = asyncio.get_running_loop().create_task(self._renew(state))
        batch = self._options.max_message_batch_size if self._many else 1
        idle_since = time.monotonic()
        try:
            while not self._stopping and not state["lost"]:
                try:
                    got: list[BusMessage] = await self._io(self._store.receive, self.path, batch, state["lock"])
                except StoreError as exc:
                    log.warning("%s", exc)
                    return
                if not got:
                    left = self._options.session_idle_timeout - (time.monotonic() - idle_since)
                    if left <= 0:
                        return
                    await self._wakeups.wait(self._key, min(left, self._options.max_polling_interval))
                    continue
                if self._many:
                    await self._run(state, got, got)
                else:
                    for message in got:
                        await self._run(state, message, [message])
                idle_since = time.monotonic()
        finally:
            renewer.cancel()
            try:
                await self._io(self._store.release_session, state["lock"])
            except Exception:
                log.exception("Releasing session '%s' of '%s' failed; its lock runs out.", lock.session_id,
                              self.path)

    async def _renew(self, state: dict[str, Any]) -> None:
        """Keep the session and the running messages locked (until maxAutoLockRenewalDuration for a message)."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(self._lock_duration / 2)
            renewed = await self._io(self._store.renew_session, state["lock"])
            if renewed is None:
                state["lost"] = True
                return
            state["lock"] = renewed
            if time.monotonic() - started < self._options.max_auto_lock_renewal:
                for token in list(state["tokens"]):
                    await self._io(self._store.renew, self.path, token)

    async def _run(self, state: dict[str, Any], native: Any, messages: list[BusMessage]) -> None:
        tokens = [str(m.lock_token) for m in messages]
        state["tokens"] = tokens
        try:
            try:
                invocation = self._handler.invocation(native)
            except InputError as exc:
                for token in tokens:
                    await self._io(self._store.dead_letter, self.path, token, UNREADABLE, str(exc))
                return
            result = await invoke_with_retry(self._invoke, invocation, self._handler.retry)
            if self._auto_complete:
                await self._io(self._store.settle, self.path, tokens, "complete" if result.succeeded else "abandon")
        except Exception:
            log.exception("Settling messages of session '%s' of '%s' failed; they come back after their lock.",
                          state["lock"].session_id, self.path)
        finally:
            state["tokens"] = []
