"""One partition of one Event Hubs-triggered function, as the extension's partition processor runs it (§6.4).

Batches are read and processed in order, one at a time: with ``cardinality: one`` each event of a batch is its own
invocation, in sequence; with ``many`` the batch is one invocation, and a batch smaller than ``minEventBatchSize``
waits up to ``maxWaitTime`` for more. After every ``batchCheckpointFrequency`` batches the position is checkpointed
**whether the function succeeded or not** (a retry policy retries first): Event Hubs never redelivers. Before each
batch the pump checks that its instance still owns the partition, so a partition another instance took over is
left at once instead of being processed twice until the next load-balancing round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.eventhubs_store import EventHubsStore, StoredEvent
from overcast.bindings.eventhub import PartitionContext, batch_datum, binding_data, single_datum, wakeup_name
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers.eventhubs_options import EventHubOptions
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.eventhubs")
MIN_POLL, MAX_POLL = 0.05, 1.0
# The extension sets no trigger reason for Event Hubs invocations; the host's log line then reads Reason='(null)'.
REASON = "(null)"


@dataclass(frozen=True)
class PumpTarget:
    """What a pump reads and how it calls its function."""

    spec: FunctionSpec
    hub: str
    group: str
    namespace: str
    owner: str
    many: bool
    binary: bool
    retry: RetrySpec | None


class PartitionPump:
    def __init__(self, target: PumpTarget, partition: str, start: int, store: EventHubsStore,
                 invoke: Callable[[Invocation], Awaitable[Result]], options: EventHubOptions, wakeups: Wakeups,
                 io: Callable[..., Awaitable[Any]]) -> None:
        self.target = target
        self.partition = partition
        self.position = start  # the next sequence number to read
        self._store = store
        self._invoke = invoke
        self._options = options
        self._wakeups = wakeups
        self._io = io
        self._context = PartitionContext(target.namespace, target.hub, target.group, partition)
        self._stopping = False
        self._lost = False
        self._pending = 0  # batches processed since the last checkpoint
        self._last: StoredEvent | None = None  # the last event processed

    @property
    def lost(self) -> bool:
        """Another instance owns the partition now (the pump has stopped)."""
        return self._lost

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(wakeup_name(self.target.hub, self.partition))

    def _fetch(self) -> list[StoredEvent] | None:
        """The next batch (blocking, one store round trip on the pool); None when the partition is no longer ours."""
        t = self.target
        owners = self._store.ownership(t.hub, t.group)
        if not any(o.partition == self.partition and o.owner == t.owner and not o.expired for o in owners):
            return None
        return self._store.read(t.hub, self.partition, self.position, self._options.max_event_batch_size)

    async def run(self) -> None:
        """Process until stopped or the partition is lost; never raises."""
        delay = MIN_POLL
        waiting_since: float | None = None
        name = wakeup_name(self.target.hub, self.partition)
        options = self._options
        try:
            while not self._stopping:
                try:
                    events = await self._io(self._fetch)
                except Exception:
                    log.exception("Reading partition %s of event hub '%s' failed; retrying in %.1f s.",
                                  self.partition, self.target.hub, delay)
                    events = []
                if events is None:
                    self._lost = True
                    log.info("Partition %s of event hub '%s' is owned by another instance now.", self.partition,
                             self.target.hub)
                    return
                # minEventBatchSize applies only to functions that take batches (the extension's rule).
                short = self.target.many and len(events) < options.min_event_batch_size
                if events and short:
                    waiting_since = waiting_since or time.monotonic()
                    left = options.max_wait_time - (time.monotonic() - waiting_since)
                    if left > 0:
                        await self._wakeups.wait(name, min(left, MAX_POLL))
                        continue
                if not events:
                    await self._wakeups.wait(name, delay)
                    delay = min(MAX_POLL, delay * 2)
                    continue
                delay, waiting_since = MIN_POLL, None
                await self._process(events)
                self.position = events[-1].sequence_number + 1
                self._last = events[-1]
                self._pending += 1
                if self._pending >= options.batch_checkpoint_frequency:
                    await self._checkpoint()
            await self._checkpoint()  # a graceful stop keeps the work done since the last checkpoint
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("The pump of partition %s of event hub '%s' stopped.", self.partition, self.target.hub)

    async def _checkpoint(self) -> None:
        last = self._last
        if last is None or self._pending == 0:
            return
        t = self.target
        try:
            await self._io(self._store.set_checkpoint, t.hub, t.group, self.partition, last.sequence_number,
                           last.offset)
            self._pending = 0
        except Exception:
            log.exception("Checkpointing partition %s of event hub '%s' failed; the next batch tries again.",
                          self.partition, t.hub)

    async def _process(self, events: Sequence[StoredEvent]) -> None:
        t = self.target
        if t.many:
            datum, metadata = batch_datum(events, self._context, t.binary)
            await self._call(datum, metadata, binding_data(events, self._context, single=False))
            return
        for event in events:
            datum, metadata = single_datum(event, self._context, t.binary)
            await self._call(datum, metadata, binding_data([event], self._context, single=True))

    async def _call(self, datum: Any, metadata: dict[str, Any], data: dict[str, Any]) -> None:
        invocation = Invocation(function=self.target.spec, trigger=datum, trigger_metadata=metadata, reason=REASON,
                                binding_data=data)
        result = await invoke_with_retry(self._invoke, invocation, self.target.retry)
        if not result.succeeded:
            # As the extension: the position moves on and is checkpointed all the same; nothing is redelivered.
            log.debug("Function '%s' failed on partition %s of event hub '%s'; the events are not redelivered.",
                      self.target.spec.name, self.partition, self.target.hub)
