"""Builds and runs every trigger listener of one instance, and the store access they share."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from overcast.app.index import AppIndex, parse_retry
from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.base import BlobProperties, BlobStore, LeaseStore, QueueBackend, StateStore
from overcast.backends.changes import EVERYTHING, ChangeSource
from overcast.backends.pool import ConnectionStores
from overcast.config.settings import Settings
from overcast.invoke.dispatcher import Dispatcher
from overcast.invoke.model import Invocation, Result
from overcast.kinds import Need, import_string, kind_of
from overcast.triggers.queue_options import QueueOptions, queue_options
from overcast.triggers.wakeup import Wakeups, same_name

log = logging.getLogger("overcast.host.triggers")
T = TypeVar("T")
RETRY_DOCUMENTED = frozenset({"timerTrigger", "eventHubTrigger", "cosmosDBTrigger", "kafkaTrigger"})
# Listeners of the whole app rather than of one kind's triggers: "module:function"(loaded functions, context) ->
# listeners, none when the app does not use what it serves. Event Grid's delivery serves local topics, outputs and
# blob triggers with source="EventGrid" alike.
APP_LISTENERS = ("overcast.eventgrid.listeners:eventgrid_app_listeners",)


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
    # Where the stores' reports of other instances' writes (``watch``) wake the listeners.
    wakeups: Wakeups | None = None
    _watched: set[int] = field(default_factory=set)

    @property
    def state(self) -> StateStore:
        return self.connection.state

    @property
    def queues(self) -> QueueBackend:
        return self.connection.queues

    @property
    def consumer_queues(self) -> QueueBackend:
        store = self.connection.consumer_queues if self.separate_consumer else self.connection.queues
        self.watch(store, same_name)
        return store

    def watch(self, store: ChangeSource, key_of: Callable[[str], str | None]) -> None:
        """Wake the listener waiting on ``key_of(name)`` when an instance reports a write under ``name`` in
        ``store`` (:mod:`overcast.backends.changes`; ``key_of`` returns None for a name no listener here waits on);
        every listener when the reports had a gap. Once per store object; it ends when the store is closed."""
        wakeups = self.wakeups
        if wakeups is None or id(store) in self._watched:
            return
        self._watched.add(id(store))

        def changed(name: str) -> None:
            if name == EVERYTHING:
                wakeups.wake_all()
                return
            key = key_of(name)
            if key is not None:
                wakeups.wake(key)

        store.watch_changes(changed)

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


def open_storage(needs: frozenset[Need], connection: ConnectionStores) -> Storage:
    """What the bindings and listeners with these needs (:func:`overcast.kinds.needs_of`) share (each store opened
    when first needed)."""
    separate = {"consumer", "producer"} <= needs
    wakeups = Wakeups()
    return Storage(connection, Stores(connection, separate_consumer=separate, wakeups=wakeups), wakeups, StoreIO())


@dataclass
class ListenerContext:
    """What a kind's listener factory (``BindingKind.listener``) builds its listeners from."""

    settings: Settings
    stores: Stores
    invoke: Callable[[Invocation], Awaitable[Result]]
    wakeups: Wakeups
    io: StoreIO
    host_id: str
    queue_options: QueueOptions
    retry_for: Callable[[FunctionSpec], RetrySpec | None]
    # Called (blocking, on a store pool) after an output binding of this instance wrote a blob.
    blob_observers: list[Callable[[BlobProperties], None]] = field(default_factory=list)
    # Handlers of /runtime/webhooks/<name> (lower-case name) that listeners serve; the admin API mounts them.
    webhooks: dict[str, Any] = field(default_factory=dict)
    # Every function of the app that can run, here or on another instance (an allow list splits them, as the
    # Kubernetes manifests' two deployments do): app-wide duties follow the whole app, not this instance's share.
    app_functions: list[FunctionSpec] = field(default_factory=list)

    @staticmethod
    def owner() -> str:
        """A lease owner name unique to one listener in this process."""
        return _owner()


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
        loaded = [spec for spec in index.functions if not spec.in_error and not spec.disabled]
        elsewhere = [spec for spec in index.excluded_functions if not spec.in_error and not spec.disabled]
        self.context = ListenerContext(settings, stores, dispatcher.invoke, wakeups, io, host_id, self.queue_options,
                                       self._retry_for, app_functions=loaded + elsewhere)
        # Each kind with a listener builds the listeners of its functions (the table's "module:function").
        by_kind: dict[str, list[FunctionSpec]] = {}
        for spec in loaded:
            kind = kind_of(spec.trigger.type)
            if kind.trigger and kind.listener is not None:
                by_kind.setdefault(kind.listener, []).append(spec)
        for factory, specs in by_kind.items():
            self._listeners += import_string(factory)(specs, self.context)
        for factory in APP_LISTENERS:
            self._listeners += import_string(factory)(loaded, self.context)

    @property
    def webhooks(self) -> dict[str, Any]:
        """The listeners' ``/runtime/webhooks/<name>`` handlers."""
        return self.context.webhooks

    def add(self, listener: Any) -> None:
        """Another producer of invocations with ``run()``, ``stop()`` and ``drain()`` (the durable engine)."""
        self._listeners.append(listener)

    def blob_written(self, props: BlobProperties) -> None:
        """An output binding of this instance wrote a blob: blob triggers hear of it at once."""
        for observer in self.context.blob_observers:
            observer(props)

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
