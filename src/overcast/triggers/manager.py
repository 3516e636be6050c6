"""Builds and runs every trigger listener of one instance, and the store access they share."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from overcast.app.index import AppIndex, parse_retry
from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.base import BlobProperties, BlobStore, LeaseStore, QueueBackend, StateStore
from overcast.backends.pool import ConnectionStores
from overcast.config.settings import Settings
from overcast.invoke.dispatcher import Dispatcher
from overcast.triggers import schedule as sched
from overcast.triggers.queue import QueueListener
from overcast.triggers.queue_options import QueueOptions, queue_options
from overcast.triggers.timer import TimerListener
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers")
T = TypeVar("T")
RETRY_DOCUMENTED = frozenset({"timerTrigger", "eventHubTrigger", "cosmosDBTrigger", "kafkaTrigger"})


def _owner() -> str:
    """A lease owner name unique to this listener in this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StorePool:
    """A small thread pool for blocking store calls, so a busy SQLite lock never stalls the event loop (and HTTP)."""

    def __init__(self, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix=name)

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


class StoreIO(StorePool):
    """The instance's store pools. Calls on the instance itself (``io(fn, ...)``) serve invocations someone waits
    for: an HTTP function's queue output, a blob input. ``io.background`` serves the listeners' own traffic (receive,
    settle, renew). With both on one first-come-first-served pool, an output binding's enqueue queued behind every
    delete and renewal of a busy consumer, and its latency under load grew tenfold
    (bench/queue_enqueue_under_load.py)."""

    def __init__(self) -> None:
        super().__init__("overcast-store")
        self.background = StorePool("overcast-store-bg")

    def shutdown(self) -> None:
        super().shutdown()
        self.background.shutdown()


@dataclass
class Stores:
    """The stores of the functions' storage connection: each opened when a listener first asks for it."""

    connection: ConnectionStores
    # The queue listeners' receives and settles get their own connection (and its lock) when queue outputs share
    # the process, so an output's enqueue never waits behind a consumer's statement (bench/queue_enqueue_under_load.py).
    separate_consumer: bool = False

    @property
    def state(self) -> StateStore:
        return self.connection.state

    @property
    def queues(self) -> QueueBackend:
        return self.connection.queues

    @property
    def consumer_queues(self) -> QueueBackend:
        return self.connection.consumer_queues if self.separate_consumer else self.connection.queues

    @property
    def leases(self) -> LeaseStore:
        return self.connection.leases

    @property
    def blobs(self) -> BlobStore:
        return self.connection.blobs


class BlobWrites:
    """A blob output of this instance, told to the blob triggers (built after the binding I/O that reports it)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[BlobProperties], None]] = []

    def listen(self, listener: Callable[[BlobProperties], None]) -> None:
        self._listeners.append(listener)

    def __call__(self, props: BlobProperties) -> None:
        for listener in self._listeners:
            listener(props)


@dataclass
class Storage:
    """The stores, wake-ups and store pools of the loaded functions' storage connection."""

    connection: ConnectionStores
    stores: Stores
    wakeups: Wakeups
    io: StoreIO


def open_storage(used: set[str], connection: ConnectionStores) -> Storage:
    """What the bindings and listeners of the binding types ``used`` share (each store opened when first needed)."""
    separate = bool(used & {"queueTrigger", "blobTrigger"}) and "queue" in used
    return Storage(connection, Stores(connection, separate_consumer=separate), Wakeups(), StoreIO())


class TriggerManager:
    def __init__(self, settings: Settings, index: AppIndex, dispatcher: Dispatcher, stores: Stores,
                 wakeups: Wakeups, io: StoreIO, host_id: str) -> None:
        self.settings = settings
        self.queue_options: QueueOptions = queue_options(
            settings.host_json.section("extensions", "queues"), lease=settings.knobs.queue_lease_seconds
        )
        self._host_retry = parse_retry(settings.host_json.section("retry"), what="host.json retry")
        self._listeners: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeups = wakeups
        self._io = io
        for spec in index.functions:
            if spec.in_error or spec.disabled:
                continue
            trigger = spec.trigger
            if trigger.type == "queueTrigger":
                queue = str(trigger.get("queueName") or "").lower()
                self._listeners.append(QueueListener(
                    spec, queue, stores.consumer_queues, dispatcher.invoke, self.queue_options,
                    wakeups, io.background, self._retry_for(spec),
                ))
            elif trigger.type == "timerTrigger":
                self._listeners.append(self._timer(spec, stores, dispatcher, host_id))
        self.blob_triggers = self._blob_triggers(index, stores, dispatcher, host_id)
        if self.blob_triggers is not None:
            self._listeners += [self.blob_triggers, self.blob_triggers.listener]

    def _blob_triggers(self, index: AppIndex, stores: Stores, dispatcher: Dispatcher, host_id: str) -> Any:
        specs = [s for s in index.functions
                 if not s.in_error and not s.disabled and s.trigger.type == "blobTrigger"]
        if not specs:
            return None
        from overcast.bindings.expressions import BlobPathPattern
        from overcast.triggers.blob import BlobQueueListener, BlobTriggers, blob_queue_options
        from overcast.triggers.blob_receipts import BlobReceipts, BlobWatch

        watches = [BlobWatch(s, BlobPathPattern.parse(str(s.trigger.get("path") or ""))) for s in specs]
        options = blob_queue_options(self.queue_options, self.settings.host_json.section("extensions", "blobs"),
                                     os.cpu_count() or 1)
        receipts = BlobReceipts(stores.state, stores.queues, host_id, options.message_encoding)
        retries = {w.function_id: self._retry_for(w.spec) for w in watches}
        listener = BlobQueueListener(
            {w.function_id: w for w in watches}, stores.blobs, retries,
            receipts.queue, stores.queues, dispatcher.invoke, options, self._wakeups, self._io.background,
        )
        return BlobTriggers(watches, stores.blobs, stores.state, stores.leases, receipts, listener, self._wakeups,
                            self._io, host_id, _owner(), self.settings.knobs.blob_scan_seconds)

    def add(self, listener: Any) -> None:
        """Another producer of invocations with ``run()``, ``stop()`` and ``drain()`` (the durable engine)."""
        self._listeners.append(listener)

    def blob_written(self, props: Any) -> None:
        """An output binding of this instance wrote a blob: blob triggers hear of it at once."""
        if self.blob_triggers is not None:
            self.blob_triggers.notify_written(props)

    def _timer(self, spec: FunctionSpec, stores: Stores, dispatcher: Dispatcher, host_id: str) -> TimerListener:
        trigger = spec.trigger
        tz = sched.resolve_time_zone(os.environ)
        schedule = sched.parse_schedule(str(trigger.get("schedule") or ""), tz)
        requested = trigger.get("useMonitor")
        use_monitor = sched.use_monitor_for(schedule, True if requested is None else bool(requested))
        return TimerListener(
            spec, schedule, tz, use_monitor=use_monitor, run_on_startup=bool(trigger.get("runOnStartup")),
            state=stores.state, leases=stores.leases, invoke=dispatcher.invoke, io=self._io, host_id=host_id,
            owner=_owner(), retry=self._retry_for(spec),
        )

    def _retry_for(self, spec: FunctionSpec) -> RetrySpec | None:
        """The function's own policy wins over host.json's; HTTP triggers are never retried."""
        if spec.is_http:
            return None
        policy = spec.retry or self._host_retry
        if policy is not None and spec.trigger.type not in RETRY_DOCUMENTED:
            # The SDK still applies the loop for these triggers, with this warning (§4.6).
            log.warning(
                "Soon retries will not be supported for function '%s'. For more information, please visit "
                "http://aka.ms/func-retry-policies.", spec.name,
            )
        return policy

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._wakeups.bind(loop)
        for listener in self._listeners:
            self._tasks.append(loop.create_task(listener.run()))

    async def stop(self, timeout: float) -> None:
        """Stop taking new work, then wait (bounded) for in-flight invocations to settle their messages."""
        for listener in self._listeners:
            listener.stop()
        try:
            pending = [*self._tasks, *(listener.drain() for listener in self._listeners)]
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout)
        except asyncio.TimeoutError:
            log.warning("Triggers did not finish within %.0f s; unsettled messages return after their lease.", timeout)
        self._io.shutdown()
