"""The Event Hubs trigger (§6.4): per function, a processor that owns some of the hub's partitions and runs a
:class:`~overcast.triggers.eventhubs_pump.PartitionPump` for each.

Instances share partitions as the extension's processors do, through ownership records that expire unless renewed
(``partitionOwnershipExpirationInterval``, 30 s). Every ``loadBalancingUpdateInterval`` (10 s) a processor renews
its records and balances, greedily as the extension's default strategy: it claims every unowned or expired
partition it needs to reach its fair share (partitions / active instances) and, when none is free, steals one from
the busiest instance. A new instance thus takes its share within a few rounds; a killed one's partitions return
when its records expire; a stopping one releases its partitions so that the others take them at once. A partition
without a checkpoint starts at ``initialOffsetOptions`` (fromStart, fromEnd, fromEnqueuedTime).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec
from overcast.backends.eventhubs_store import DEFAULT_CONSUMER_GROUP, EventHubsStore, HubInfo, Ownership
from overcast.bindings.eventhub import wakeup_name
from overcast.bindings.eventhub_hubs import HubDirectory, hub_directory
from overcast.invoke.model import Invocation, Result
from overcast.triggers.eventhubs_options import EventHubOptions, eventhub_options
from overcast.triggers.eventhubs_pump import PartitionPump, PumpTarget
from overcast.triggers.wakeup import Wakeups

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

log = logging.getLogger("overcast.host.triggers.eventhubs")


def fair_share(partitions: int, owners: int, mine: int, counts: list[int]) -> int:
    """How many partitions this instance should own: the even share ``partitions // owners``, or one more while
    it already has more, or while fewer of the others (``counts``: their numbers) hold one more than the remainder
    allows."""
    base, extra = divmod(partitions, owners)
    if extra == 0:
        return base
    above = sum(1 for c in counts if c > base)
    return base + 1 if mine > base or above < extra else base


def should_steal(mine: int, want: int, base: int, victim: int) -> bool:
    """Take a partition from the busiest instance (``victim`` partitions) when it holds more than the largest fair
    share, or holds the largest share while this instance is below the smallest."""
    return mine < want and (victim > base + 1 or (victim == base + 1 and mine < base))


class EventHubProcessor:
    """The listener of one Event Hubs-triggered function in this instance."""

    def __init__(self, target: PumpTarget, directory: HubDirectory, invoke: Callable[[Invocation], Awaitable[Result]],
                 options: EventHubOptions, wakeups: Wakeups, io: Callable[..., Awaitable[Any]]) -> None:
        self.target = target
        self._directory = directory
        self._store: EventHubsStore = directory.store
        self._invoke = invoke
        self._options = options
        self._wakeups = wakeups
        self._io = io
        self._pumps: dict[str, tuple[PartitionPump, asyncio.Task[None]]] = {}
        self._stopping = asyncio.Event()
        self._info: HubInfo | None = None

    @property
    def name(self) -> str:
        return self.target.hub

    @property
    def owned(self) -> list[str]:
        """The partitions this processor pumps now."""
        return sorted(self._pumps, key=int)

    def stop(self) -> None:
        self._stopping.set()
        for pump, _ in self._pumps.values():
            pump.stop()

    async def drain(self) -> None:
        tasks = [task for _, task in self._pumps.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Balance every loadBalancingUpdateInterval until stopped; then release the partitions. Never raises."""
        t = self.target
        while self._info is None and not self._stopping.is_set():
            try:
                self._info = await self._io(self._directory.ensure, t.hub, t.group)
            except Exception:
                log.exception("Event hub '%s' could not be opened for function '%s'; retrying.", t.hub, t.spec.name)
                await self._pause(self._options.load_balancing_interval)
        while not self._stopping.is_set():
            try:
                await self.balance()
            except Exception:
                log.exception("Load balancing of event hub '%s' (function '%s') failed; retrying.", t.hub, t.spec.name)
            await self._pause(self._options.load_balancing_interval)
        await self.drain()
        for partition in list(self._pumps):
            with contextlib.suppress(Exception):
                await self._io(self._store.release, t.hub, t.group, partition, t.owner)
        self._pumps.clear()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def balance(self) -> None:
        """One load-balancing round: renew, forget lost partitions, claim or steal toward the fair share."""
        t, info = self.target, self._info
        if info is None:
            return
        for partition, (pump, task) in list(self._pumps.items()):
            if task.done() or pump.lost:
                del self._pumps[partition]
        duration = self._options.ownership_expiration
        for partition in list(self._pumps):
            if not await self._io(self._store.claim, t.hub, t.group, partition, t.owner, duration):
                pump, _ = self._pumps.pop(partition)
                pump.stop()
                log.info("Function '%s' lost partition %s of event hub '%s'.", t.spec.name, partition, t.hub)
        records: list[Ownership] = await self._io(self._store.ownership, t.hub, t.group)
        active = {r.partition: r.owner for r in records if not r.expired}
        counts: dict[str, int] = {}
        for owner in active.values():
            if owner != t.owner:
                counts[owner] = counts.get(owner, 0) + 1
        mine = len(self._pumps)
        want = fair_share(info.partition_count, len(counts) + 1, mine, list(counts.values()))
        free = [p for p in info.partition_ids if p not in active and p not in self._pumps]
        random.shuffle(free)
        claimed: list[str] = []
        for partition in free:
            if mine + len(claimed) >= want:
                break
            if await self._io(self._store.claim, t.hub, t.group, partition, t.owner, duration):
                claimed.append(partition)
        if mine + len(claimed) < want and not free and counts:
            # Steal one partition per round from the busiest instance, as the extension's balancer does.
            victim = max(counts, key=lambda o: (counts[o], o))
            if should_steal(mine, want, info.partition_count // (len(counts) + 1), counts[victim]):
                theirs = [p for p, o in active.items() if o == victim]
                partition = random.choice(theirs)
                if await self._io(self._store.claim, t.hub, t.group, partition, t.owner, duration, victim):
                    claimed.append(partition)
        for partition in claimed:
            await self._start(partition)

    async def _start(self, partition: str) -> None:
        t, options = self.target, self._options
        checkpoint = (await self._io(self._store.checkpoints, t.hub, t.group)).get(partition)
        if checkpoint is not None:
            start = checkpoint.sequence_number + 1
        elif options.initial_offset == "fromEnd":
            start = (await self._io(self._store.partitions, t.hub))[int(partition)].last_sequence_number + 1
        elif options.initial_offset == "fromEnqueuedTime" and options.initial_enqueued_time is not None:
            start = await self._io(self._store.sequence_at, t.hub, partition, options.initial_enqueued_time)
        else:
            start = 0
        pump = PartitionPump(t, partition, start, self._store, self._invoke, options, self._wakeups, self._io)
        task = asyncio.get_running_loop().create_task(pump.run())
        self._pumps[partition] = (pump, task)
        log.info("Function '%s' owns partition %s of event hub '%s' (consumer group '%s'), from sequence number %d.",
                 t.spec.name, partition, t.hub, t.group, start)


def namespace_of(connection_value: str) -> str:
    """The fully qualified namespace a connection string names (``Endpoint=sb://<host>/``); localhost otherwise."""
    from overcast.config.connections import connection_parts

    endpoint = connection_parts(connection_value).get("endpoint", "")
    host = endpoint.partition("://")[2].split("/", 1)[0].split(":", 1)[0]
    return host or "localhost"


def partition_wake_key(name: str) -> str:
    """The pump's wake-up of a change the store reports as ``<hub>/<partition id>`` (hub names have no '/')."""
    hub, _, partition = name.rpartition("/")
    return wakeup_name(hub, partition)


def eventhub_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """The listeners of the eventHub kind: one processor per function (ConfigError for bad settings: exit 3)."""
    import os

    from overcast.bindings.eventhub_times import install
    from overcast.config.connections import resolve_connection

    options = eventhub_options(context.settings.host_json.section("extensions", "eventHubs"))
    install()
    store = context.stores.connection.consumer_eventhubs
    directory = hub_directory(store)
    context.stores.watch(store, partition_wake_key)  # another instance's send wakes the partition's pump
    listeners: list[Any] = []
    for spec in specs:
        trigger = spec.trigger
        connection = resolve_connection(trigger.get("connection"), os.environ, "eventhubs")
        namespace = directory.config.namespace or namespace_of(connection.value)
        target = PumpTarget(
            spec=spec, hub=str(trigger.get("eventHubName") or trigger.get("path") or ""),
            group=str(trigger.get("consumerGroup") or DEFAULT_CONSUMER_GROUP), namespace=namespace,
            owner=context.owner(), many=str(trigger.get("cardinality") or "one").lower() == "many",
            binary=str(trigger.data_type or "").lower() == "binary", retry=context.retry_for(spec),
        )
        listeners.append(EventHubProcessor(target, directory, context.invoke, options, context.wakeups,
                                           context.io.background))
    return listeners
