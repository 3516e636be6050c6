"""Blob receipts: each blob version (ETag) triggers each function once, across instances and restarts (§6.2).

A new version is *claimed* by creating its receipt with ``put_if_absent`` (so two instances that notice it at
once agree on one owner); the owner enqueues a trigger message on the host's blob-trigger queue, then marks the
receipt completed. The claim works as the extension's 30 s receipt lease: a claim still pending after
``STALE_CLAIM_SECONDS`` belongs to an instance that died between the claim and the enqueue, and the scanner takes
it over (at worst the blob then triggers twice, which at-least-once delivery allows).

A claim that is pending and not yet stale is :attr:`Notice.PENDING`: the scanner must look at that blob again
until it settles, so it keeps its scan watermark at or before the blob (as the extension keeps its stored scan
time at the oldest blob whose notification failed). Without that, later scans, which only list blobs modified
since the last scan, never see the blob again and a claim left by a killed instance is lost for good.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from dataclasses import dataclass

from overcast.app.spec import FunctionSpec
from overcast.backends.base import BlobProperties, Clock, QueueStore, StateStore
from overcast.bindings.expressions import BlobPathPattern
from overcast.bindings.queue import encode_body

# The extension's receipt lease (BlobReceiptManager.LeasePeriod). Claim, enqueue and completion take milliseconds
# on a live instance, so a claim this old was left by one that died.
STALE_CLAIM_SECONDS = 30.0
POISON_QUEUE = "webjobs-blobtrigger-poison"
log = logging.getLogger("overcast.host.triggers.blobs")


class Notice(enum.Enum):
    """What noticing a blob version did for one function."""

    ENQUEUED = "enqueued"  # claimed here; its trigger message is on the queue and the receipt completed
    SETTLED = "settled"  # already completed (by anyone): nothing to do
    PENDING = "pending"  # claimed by another instance that has not finished yet: look again later


def trigger_queue_name(host_id: str) -> str:
    """The host's shared blob-trigger queue (``azure-webjobs-blobtrigger-<hostId>``)."""
    return f"azure-webjobs-blobtrigger-{host_id}"[:63].rstrip("-")


@dataclass(frozen=True)
class BlobWatch:
    """One blob-triggered function and the blobs it watches."""

    spec: FunctionSpec
    pattern: BlobPathPattern

    @property
    def function_id(self) -> str:
        return f"Host.Functions.{self.spec.name}"


def trigger_message(watch: BlobWatch, props: BlobProperties) -> str:
    """The message the host enqueues for a blob version (BlobTriggerMessage)."""
    return json.dumps({
        "Type": "BlobTrigger", "FunctionId": watch.function_id, "BlobType": "BlockBlob",
        "ContainerName": props.container, "BlobName": props.name, "ETag": props.etag,
    })


class BlobReceipts:
    """Claims and completes receipts and enqueues trigger messages. Blocking: call through the store pool."""

    def __init__(self, state: StateStore, queues: QueueStore, host_id: str, encoding: str,
                 clock: Clock = time.time) -> None:
        self._state = state
        self._queues = queues
        self._host_id = host_id
        self._encoding = encoding
        self._clock = clock
        self.queue = trigger_queue_name(host_id)

    def _key(self, watch: BlobWatch, props: BlobProperties) -> str:
        return f"blobreceipts/{self._host_id}/{watch.function_id}/{props.etag}/{props.container}/{props.name}"

    def notify(self, watch: BlobWatch, props: BlobProperties, *, take_over_stale: bool = False) -> Notice:
        """Claim this version, enqueue its trigger message and complete the receipt, unless a receipt exists.

        ``take_over_stale`` (the scanner) also takes over a claim older than ``STALE_CLAIM_SECONDS``. A crash
        anywhere in here leaves the claim pending, which the scanner keeps revisiting until it goes stale.
        """
        key = self._key(watch, props)
        existing = self._state.get(key)  # a plain read first: rescans mostly meet receipts that exist
        if existing is not None:
            settled = self._settled(existing, take_over_stale)
            if settled is not None:
                return settled
        claim = json.dumps({"state": "pending", "at": self._clock()})
        stored = self._state.put_if_absent(key, claim)
        if stored != claim:
            settled = self._settled(stored, take_over_stale)
            if settled is not None:
                return settled
            log.warning("Taking over the stale claim on blob '%s/%s' for function '%s': the instance that claimed "
                        "it stopped before queueing its trigger.", props.container, props.name, watch.spec.name)
            self._state.put(key, claim)
        body = trigger_message(watch, props).encode("utf-8")
        self._queues.enqueue(self.queue, encode_body(body, self._encoding))
        self._state.put(key, json.dumps({"state": "completed", "at": self._clock()}))
        return Notice.ENQUEUED

    def _settled(self, stored: str, take_over_stale: bool) -> Notice | None:
        """The outcome for an existing receipt, or None when the caller should (re)claim it."""
        record = _record(stored)
        if record is None:
            return None  # an unreadable receipt must not block the blob forever
        if record.get("state") != "pending":
            return Notice.SETTLED
        if take_over_stale and self._clock() - _claimed_at(record) > STALE_CLAIM_SECONDS:
            return None
        return Notice.PENDING


def _record(stored: str) -> dict[str, object] | None:
    try:
        record = json.loads(stored)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _claimed_at(record: dict[str, object]) -> float:
    try:
        return float(str(record["at"]))
    except (KeyError, ValueError):
        return float("-inf")  # a claim without a readable time is as good as stale
