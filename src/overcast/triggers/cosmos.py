"""The Cosmos DB trigger listener (§6.6): the change feed of a container, read per feed range under leases.

Each function's listener balances the range leases with the other instances (:mod:`overcast.triggers.cosmos_leases`),
reads each range it holds after the lease's continuation, invokes the function with up to
``maxItemsPerInvocation`` documents, and checkpoints the lease after the invocation whether it succeeded or not (a
retry policy retries first), as Azure does. It polls every ``feedPollDelay``; a write through an output binding of
this instance wakes it at once, and so does another instance's write on a store that reports it
(:mod:`overcast.backends.changes`: PostgreSQL's NOTIFY).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overcast.app.spec import BindingSpec, FunctionSpec, RetrySpec
from overcast.backends.documents_store import DocumentStore
from overcast.bindings import cosmos
from overcast.bindings.cosmos_kind import WAKE_PREFIX, wake_name
from overcast.errors import OvercastError
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers.cosmos_leases import (
    ACQUIRE_INTERVAL,
    EXPIRATION_INTERVAL,
    FEED_POLL_DELAY,
    LEASE_CONTAINER,
    RENEW_INTERVAL,
    Lease,
    LeaseManager,
    LeaseOptions,
)

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext
    from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.cosmos")
START_RETRY_MAX = 30.0  # a listener that cannot start (a missing container) tries again, backing off to this
ERROR_PAUSE = 1.0


def lease_options(binding: BindingSpec) -> LeaseOptions:
    """The trigger's lease settings, v4 or v3 names (milliseconds in function.json, seconds here)."""
    database = cosmos.database_of(binding)
    return LeaseOptions(
        database=database,
        container=cosmos.container_of(binding),
        lease_database=str(cosmos.setting(binding, "leaseDatabaseName", default=database)),
        lease_container=str(cosmos.setting(binding, "leaseContainerName", "leaseCollectionName",
                                           default=LEASE_CONTAINER)),
        prefix=str(cosmos.setting(binding, "leaseContainerPrefix", "leaseCollectionPrefix", default="")),
        create_lease_container=cosmos.flag(binding, "createLeaseContainerIfNotExists",
                                           "createLeaseCollectionIfNotExists"),
        expiration=cosmos.milliseconds(binding, "leaseExpirationInterval", EXPIRATION_INTERVAL),
        renew=cosmos.milliseconds(binding, "leaseRenewInterval", RENEW_INTERVAL),
        start_from_beginning=cosmos.flag(binding, "startFromBeginning"),
        start_from_time=cosmos.start_time(binding.get("startFromTime")),
    )


class FeedRelay:
    """One per watched container in an instance: passes the container's wake-ups to each of its listeners (a
    wake-up is consumed by one waiter, and two functions on one container must both hear it)."""

    def __init__(self, wakeups: Wakeups, name: str) -> None:
        self._wakeups = wakeups
        self._name = name
        self._stopping = False
        self.listeners: list[ChangeFeedListener] = []

    async def run(self) -> None:
        while not self._stopping:
            await self._wakeups.wait(self._name, 3600.0)
            for listener in self.listeners:
                listener.notify()

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(self._name)

    async def drain(self) -> None:
        return None


class ChangeFeedListener:
    def __init__(self, spec: FunctionSpec, store: DocumentStore, manager: LeaseManager, *, folder: Path,
                 invoke: Callable[[Invocation], Awaitable[Result]], io: Callable[..., Awaitable[Any]],
                 retry: RetrySpec | None, poll_delay: float, acquire_interval: float, max_items: int | None) -> None:
        self.spec = spec
        self._store = store
        self._manager = manager
        self._folder = folder
        self._invoke = invoke
        self._io = io
        self._retry = retry
        self._poll_delay = poll_delay
        self._balance_every = min(acquire_interval, manager.options.renew)
        self._max_items = max_items
        self._stopping = False
        self._wake: asyncio.Event | None = None
        # Every write of a held lease (renewal, balance, checkpoint) goes through this lock with the latest _etag:
        # two writes of one owner racing would make the second look like a lost lease.
        self._lease_lock: asyncio.Lock | None = None
        self.held: dict[int, Lease] = {}

    def notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self.notify()

    async def drain(self) -> None:
        return None

    async def _pause(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))
        self._wake.clear()

    def _prepare(self) -> None:
        cosmos.declare_all(self._store, self._folder)
        self._manager.prepare()

    async def _start(self) -> bool:
        """Prepare the containers and leases, retrying while they are missing; False when stopped first."""
        delay, said = 1.0, ""
        while not self._stopping:
            try:
                await self._io(self._prepare)
                return True
            except OvercastError as exc:
                if str(exc) != said:
                    said = str(exc)
                    log.error("The listener for function 'Functions.%s' was unable to start: %s Retrying every "
                              "%.0f s at most.", self.spec.name, exc, START_RETRY_MAX)
            await self._pause(delay)
            delay = min(delay * 2, START_RETRY_MAX)
        return False

    async def run(self) -> None:
        """Never raises: store failures are logged and retried."""
        self._wake = asyncio.Event()
        self._lease_lock = asyncio.Lock()
        if not await self._start():
            return
        renewing = asyncio.get_running_loop().create_task(self._renew_loop())
        options = self._manager.options
        log.info("Function '%s' reads the change feed of '%s/%s' (leases in '%s/%s'%s).", self.spec.name,
                 options.database, options.container, options.lease_database, options.lease_container,
                 f", prefix '{options.prefix}'" if options.prefix else "")
        next_balance = 0.0
        while not self._stopping:
            try:
                if time.monotonic() >= next_balance:
                    await self._balance()
                    next_balance = time.monotonic() + self._balance_every
                if not await self._process() and not self._stopping:
                    await self._pause(min(self._poll_delay, next_balance - time.monotonic()))
            except Exception:
                log.exception("The change feed listener of '%s' failed; retrying in %.0f s.", self.spec.name,
                              ERROR_PAUSE)
                await self._pause(ERROR_PAUSE)
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        try:
            await self._io(self._manager.release)
        except Exception:
            log.warning("Releasing the leases of '%s' failed; they expire on their own.", self.spec.name)
        self.held = {}

    async def _renew_loop(self) -> None:
        """Renew the held leases on time even while a long invocation runs (as the processor's renewer does)."""
        assert self._lease_lock is not None
        every = min(self._manager.options.renew, self._manager.options.expiration / 3)
        while not self._stopping:
            await asyncio.sleep(every)
            try:
                async with self._lease_lock:
                    for feed_range, lease in list(self.held.items()):
                        renewed = await self._io(self._manager.renew, lease)
                        if renewed is None:
                            self._lost(feed_range)
                        else:
                            self.held[feed_range] = renewed
            except Exception:
                log.exception("Renewing the leases of '%s' failed; retrying.", self.spec.name)

    def _lost(self, feed_range: int) -> None:
        options = self._manager.options
        log.warning("Function '%s' lost the lease of feed range %d of '%s/%s' to another instance.",
                    self.spec.name, feed_range, options.database, options.container)
        self.held.pop(feed_range, None)

    async def _balance(self) -> None:
        assert self._lease_lock is not None
        async with self._lease_lock:
            held = await self._io(self._manager.balance)
            if sorted(held) != sorted(self.held):
                log.info("Function '%s' holds feed ranges %s of '%s/%s'.", self.spec.name, sorted(held) or "none",
                         self._manager.options.database, self._manager.options.container)
            self.held = held

    async def _process(self) -> bool:
        """One pass over the held ranges; True when any had changes."""
        options = self._manager.options
        worked = False
        for feed_range, lease in list(self.held.items()):
            if self._stopping:
                break
            if lease.requested_by and lease.requested_by != self._manager.owner:
                await self._hand_over(feed_range)
                continue
            changes = await self._io(self._store.read_feed, options.database, options.container, feed_range,
                                     lease.continuation, self._max_items)
            if not changes:
                continue
            worked = True
            await self._deliver([change.document for change in changes])
            # Checkpointed whether the invocation succeeded or not (Azure's rule; a retry policy retries first).
            assert self._lease_lock is not None
            async with self._lease_lock:
                current = self.held.get(feed_range)
                updated = None if current is None else await self._io(self._manager.checkpoint, current,
                                                                       changes[-1].sequence)
                if updated is None:
                    self._lost(feed_range)
                else:
                    self.held[feed_range] = updated
        return worked

    async def _hand_over(self, feed_range: int) -> None:
        """Another instance asked for this lease to balance the load: give it now, between two batches."""
        assert self._lease_lock is not None
        async with self._lease_lock:
            current = self.held.get(feed_range)
            if current is not None and await self._io(self._manager.hand_over, current):
                log.info("Function '%s' handed feed range %d of '%s/%s' to another instance.", self.spec.name,
                         feed_range, self._manager.options.database, self._manager.options.container)
                self.held.pop(feed_range, None)

    async def _deliver(self, documents: list[dict[str, Any]]) -> None:
        from azure.functions.meta import Datum

        now = dt.datetime.now(dt.timezone.utc).isoformat()
        invocation = Invocation(
            function=self.spec, trigger=Datum(json.dumps(documents), "json"),
            reason=f"New changes on container {self._manager.options.container} at {now}",
        )
        await invoke_with_retry(self._invoke, invocation, self._retry)


def cosmos_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """A change feed listener per Cosmos DB triggered function, and one wake-up relay per watched container."""
    store = context.stores.connection.documents
    relays: dict[str, FeedRelay] = {}
    # Another instance's write to a watched container wakes its relay (names are "<database>/<container>").
    context.stores.watch(store, lambda name: WAKE_PREFIX + name if WAKE_PREFIX + name in relays else None)
    listeners: list[Any] = []
    for spec in specs:
        binding = spec.trigger
        options = lease_options(binding)
        limit = binding.get("maxItemsPerInvocation")
        listener = ChangeFeedListener(
            spec, store, LeaseManager(store, options, context.owner()), folder=cosmos.app_folder(spec.directory),
            invoke=context.invoke, io=context.io.background, retry=context.retry_for(spec),
            poll_delay=cosmos.milliseconds(binding, "feedPollDelay", FEED_POLL_DELAY),
            acquire_interval=cosmos.milliseconds(binding, "leaseAcquireInterval", ACQUIRE_INTERVAL),
            max_items=None if limit in (None, "") else int(limit),
        )
        name = wake_name(options.database, options.container)
        relay = relays.get(name)
        if relay is None:
            relay = relays[name] = FeedRelay(context.wakeups, name)
            listeners.append(relay)
        relay.listeners.append(listener)
        listeners.append(listener)
    return listeners
