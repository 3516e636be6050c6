"""The blob trigger (§6.2): detection by container scans and in-process notifications, execution through the
host's shared blob-trigger queue, so failures retry with queue semantics and end in ``webjobs-blobtrigger-poison``.

Detection. Blobs written by this instance's output bindings are notified at once. Every other write (another
instance, ``overcast blob put``, the Blob API) is found by a scan of the watched containers, run at once when the
store reports a write to one of them (:mod:`overcast.backends.changes`: PostgreSQL's NOTIFY; at most every
``MIN_SCAN_GAP_SECONDS`` under a stream of writes) and every ``scan_interval`` seconds anyway: one
instance at a time holds the container's scan lease, and only blobs modified since the last complete scan (kept
in the StateStore, so downtime is caught up after a restart) are looked at. Receipts make each version trigger
each function once. The stored scan time never passes a blob whose claim is still pending elsewhere (see
:mod:`overcast.triggers.blob_receipts`): such blobs are listed again by every scan until their claim completes or
goes stale and is taken over, so a claim left by a killed instance is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.base import BlobProperties, BlobStore, Clock, LeaseStore, QueueStore, StateStore
from overcast.bindings import blob as blob_binding
from overcast.config import json_text
from overcast.errors import InputError
from overcast.invoke.model import Invocation, Result
from overcast.triggers.blob_receipts import POISON_QUEUE, BlobReceipts, BlobWatch, Notice
from overcast.triggers.loop import MessageLoop, Prepared
from overcast.triggers.messages import Delivery
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.storage_queue import StorageQueueSource, queue_policy
from overcast.triggers.wakeup import Wakeups, same_name

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

log = logging.getLogger("overcast.host.triggers.blobs")
# The host scans every 10 s because listing a real account costs money; listing the embedded store is a local
# query, so Overcast looks more often. OVERCAST_BLOB_SCAN_SECONDS changes it.
DEFAULT_SCAN_SECONDS = 2.0
SCAN_LEASE_SECONDS = 30.0
# A write commits a little after it reads the clock; looking this far back keeps such writes from slipping between
# two scans (receipts stop the repeats).
SCAN_OVERLAP_SECONDS = 2.0
# A scan lists the container: under a stream of writes reported by the store, scans start at most this often (the
# reports meanwhile are folded into the next scan).
MIN_SCAN_GAP_SECONDS = 0.25
SCAN_WAKE_KEY = "blobscan"  # the scanner's wake-up (overcast.triggers.wakeup)


def blob_queue_options(queues: QueueOptions, section: Mapping[str, Any], cpu_count: int) -> QueueOptions:
    """The shared queue's settings from host.json ``extensions.blobs`` (§4.5)."""
    from overcast.errors import ConfigError

    def number(key: str, default: int) -> int:
        raw = section.get(key.lower(), default)
        try:
            value = int(str(raw))
        except ValueError:
            raise ConfigError(f"host.json extensions.blobs.{key} must be an integer, got {raw!r}.") from None
        if value < 1:
            raise ConfigError(f"host.json extensions.blobs.{key} must be at least 1, got {value}.")
        return value

    parallelism = number("maxDegreeOfParallelism", 8 * cpu_count)
    batch = min(32, parallelism // 2 + 1)
    return replace(queues, batch_size=batch, new_batch_threshold=max(0, parallelism - batch),
                   max_dequeue_count=number("poisonBlobThreshold", 5))


class BlobMessages:
    """The handler of the shared blob-trigger queue: a trigger message names a function and a blob version, and
    becomes that function's invocation with the blob's current content."""

    def __init__(self, watches: dict[str, BlobWatch], blobs: BlobStore, retries: dict[str, RetrySpec | None],
                 io: Callable[..., Awaitable[Any]]) -> None:
        self._watches = watches
        self._blobs = blobs
        self._retries = retries
        self._io = io

    def _read_version(self, container: str, name: str, etag: str) -> tuple[bytes, BlobProperties] | None:
        """The content of the version ``etag`` names; None (without reading it) once another version replaced it."""
        reader = self._blobs.open_read(container, name)
        if reader is None:
            return None
        with reader:
            return (reader.read(), reader.properties) if reader.properties.etag == etag else None

    async def __call__(self, delivery: Delivery) -> Prepared:
        body = delivery.body
        try:
            fields = json_text.loads(body, "The blob trigger message")
            watch = self._watches.get(fields["FunctionId"])
            container, name, etag = fields["ContainerName"], fields["BlobName"], fields["ETag"]
        except InputError:
            raise
        except (ValueError, KeyError, TypeError):
            # As the extension, which fails on it until it is poisoned; retrying cannot help, so poison now.
            raise InputError(f"It is not a blob trigger message ({{\"Type\":\"BlobTrigger\",\"FunctionId\":...,"
                             f"\"ContainerName\":...,\"BlobName\":...,\"ETag\":...}}): {body[:200]!r}") from None
        if watch is None:
            return None  # the function was renamed or removed: the host drops these too
        found = await self._io(self._read_version, container, name, etag)
        if found is None:
            return None  # deleted or overwritten since it was noticed (a new version has its own message)
        data, props = found
        captures = watch.pattern.match(container, name) or {}
        invocation = blob_binding.blob_invocation(watch.spec, data, props, captures,
                                     reason=f"New blob detected(LogsAndContainerScan): {container}/{name}")
        return invocation, self._retries.get(watch.function_id)


def blob_queue_listener(handler: BlobMessages, queue: str, store: QueueStore,
                        invoke: Callable[[Invocation], Awaitable[Result]], options: QueueOptions, wakeups: Wakeups,
                        io: Callable[..., Awaitable[Any]]) -> MessageLoop:
    """The loop over the host's shared blob-trigger queue; its poison queue is ``webjobs-blobtrigger-poison``."""
    source = StorageQueueSource(queue, store, io, options.message_encoding, options.lease, POISON_QUEUE, wakeups)
    return MessageLoop(source, handler, invoke, queue_policy(options), wakeups)


class BlobTriggers:
    """Every blob-triggered function of one instance: notifications, container scans and the shared queue."""

    def __init__(self, watches: list[BlobWatch], blobs: BlobStore, state: StateStore, leases: LeaseStore,
                 receipts: BlobReceipts, listener: MessageLoop, wakeups: Wakeups,
                 io: Callable[..., Awaitable[Any]], host_id: str, owner: str,
                 scan_interval: float = DEFAULT_SCAN_SECONDS, clock: Clock = time.time) -> None:
        self._watches = watches
        self._blobs = blobs
        self._state = state
        self._leases = leases
        self._receipts = receipts
        self.listener = listener
        self._wakeups = wakeups
        self._io = io
        self._host_id = host_id
        self._owner = owner
        self._clock = clock
        self._stopping = False
        self.scan_interval = scan_interval  # OVERCAST_BLOB_SCAN_SECONDS, validated once in Settings

    @property
    def containers(self) -> list[str]:
        return sorted({w.pattern.container for w in self._watches})

    def wake_key(self, container: str) -> str | None:
        """The scanner's wake-up when the store reports a write to a watched ``container`` (None for others)."""
        return SCAN_WAKE_KEY if container in self.containers else None

    def notify_written(self, props: BlobProperties) -> None:
        """Called (blocking, on the store pool) after an output binding of this instance wrote a blob."""
        enqueued = False
        for watch in self._watches:
            if watch.pattern.match(props.container, props.name) is not None:
                enqueued |= self._receipts.notify(watch, props) is Notice.ENQUEUED
        if enqueued:
            self._wakeups.wake(self._receipts.queue)

    async def run(self) -> None:
        """Scan until stopped; never raises (a failed scan is logged and tried again next time)."""
        while not self._stopping:
            started = time.monotonic()
            for container in self.containers:
                try:
                    if await self._io(self.scan, container):
                        self._wakeups.wake(self._receipts.queue)
                except Exception:
                    log.exception("Scanning container '%s' for new blobs failed; retrying.", container)
            await self._wakeups.wait(SCAN_WAKE_KEY, self.scan_interval)
            gap = MIN_SCAN_GAP_SECONDS - (time.monotonic() - started)
            if gap > 0 and not self._stopping:
                await asyncio.sleep(gap)
        # A restarted instance (new owner) would otherwise wait out the lease before its first scan.
        for container in self.containers:
            with contextlib.suppress(Exception):
                await self._io(self._leases.release, self._scan_lease(container), self._owner)

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(SCAN_WAKE_KEY)

    async def drain(self) -> None:
        """Scans hold no work in flight: the shared queue's listener drains the invocations."""

    def _scan_lease(self, container: str) -> str:
        return f"blobscan/{self._host_id}/{container}"

    def scan(self, container: str) -> bool:
        """One scan of a container (blocking); True when trigger messages were enqueued."""
        if not self._leases.acquire(self._scan_lease(container), self._owner, SCAN_LEASE_SECONDS):
            return False  # another instance scans this container now
        key = f"blobscaninfo/{self._host_id}/{container}/scanInfo"
        stored = self._state.get(key)
        since = float("-inf")
        if stored:
            try:
                since = float(json.loads(stored)["LatestScanEpoch"]) - SCAN_OVERLAP_SECONDS
            except (ValueError, KeyError, TypeError):
                log.warning("The scan info of container '%s' is not valid; scanning every blob.", container)
        started = self._clock()
        watermark = started
        enqueued = False
        for props in self._blobs.list(container):
            modified = props.last_modified.timestamp()
            if modified < since:
                continue
            for watch in self._watches:
                if watch.pattern.match(container, props.name) is not None:
                    notice = self._receipts.notify(watch, props, take_over_stale=True)
                    enqueued |= notice is Notice.ENQUEUED
                    if notice is Notice.PENDING:
                        # Claimed elsewhere and not finished: list this blob again next time, here or after a
                        # restart, until the claim completes or goes stale and is taken over.
                        watermark = min(watermark, modified)
        latest = {"LatestScan": blob_iso(watermark), "LatestScanEpoch": watermark}
        self._state.put(key, json.dumps(latest))
        return enqueued


def blob_iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def blob_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """The listeners of the blob kind: one scanner for every blob-triggered function, and the shared queue's loop."""
    import os

    from overcast.bindings.expressions import BlobPathPattern

    # A blob trigger with source="EventGrid" runs from the storage account's blob events (overcast.eventgrid), never
    # from scans, as on Azure.
    specs = [s for s in specs if str(s.trigger.get("source") or "").lower() != "eventgrid"]
    if not specs:
        return []
    stores = context.stores
    watches = [BlobWatch(s, BlobPathPattern.parse(str(s.trigger.get("path") or ""))) for s in specs]
    options = blob_queue_options(context.queue_options, context.settings.host_json.section("extensions", "blobs"),
                                 os.cpu_count() or 1)
    receipts = BlobReceipts(stores.state, stores.queues, context.host_id, options.message_encoding)
    retries = {w.function_id: context.retry_for(w.spec) for w in watches}
    handler = BlobMessages({w.function_id: w for w in watches}, stores.blobs, retries, context.io.background)
    listener = blob_queue_listener(handler, receipts.queue, stores.queues, context.invoke, options, context.wakeups,
                                   context.io.background)
    triggers = BlobTriggers(watches, stores.blobs, stores.state, stores.leases, receipts, listener, context.wakeups,
                            context.io, context.host_id, context.owner(), context.settings.knobs.blob_scan_seconds)
    context.blob_observers.append(triggers.notify_written)
    # Another instance's blob write (binding or Blob API) starts a scan of its container at once; its receipt
    # messages on the shared queue wake this instance's queue listener.
    stores.watch(stores.connection.blob_api, triggers.wake_key)
    stores.watch(stores.queues, same_name)
    return [triggers, listener]
