"""Blob receipts: each blob version (ETag) triggers each function once, across instances and restarts (§6.2).

A new version is *claimed* by creating its receipt with ``put_if_absent`` (so two instances that notice it at
once agree on one owner); the owner enqueues a trigger message on the host's blob-trigger queue, then marks the
receipt completed. A claim left pending by a killed instance is taken over by the scanner after
``STALE_CLAIM_SECONDS``, so a crash between the claim and the enqueue never loses a trigger (at worst it runs
twice, which at-least-once delivery allows).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from overcast.app.spec import FunctionSpec
from overcast.backends.base import BlobProperties, QueueStore, StateStore
from overcast.bindings.expressions import BlobPathPattern
from overcast.bindings.queue import encode_body

STALE_CLAIM_SECONDS = 60.0
POISON_QUEUE = "webjobs-blobtrigger-poison"


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

    def __init__(self, state: StateStore, queues: QueueStore, host_id: str, encoding: str) -> None:
        self._state = state
        self._queues = queues
        self._host_id = host_id
        self._encoding = encoding
        self.queue = trigger_queue_name(host_id)

    def _key(self, watch: BlobWatch, props: BlobProperties) -> str:
        return f"blobreceipts/{self._host_id}/{watch.function_id}/{props.etag}/{props.container}/{props.name}"

    def notify(self, watch: BlobWatch, props: BlobProperties, *, take_over_stale: bool = False) -> bool:
        """Enqueue a trigger for this version unless its receipt exists; True when a message was enqueued."""
        key = self._key(watch, props)
        existing = self._state.get(key)  # a plain read first: rescans mostly meet receipts that exist
        if existing is not None and not (take_over_stale and _stale(existing)):
            return False
        claim = json.dumps({"state": "pending", "at": time.time()})
        stored = self._state.put_if_absent(key, claim)
        if stored != claim:
            if not take_over_stale or not _stale(stored):
                return False
            self._state.put(key, claim)
        body = trigger_message(watch, props).encode("utf-8")
        self._queues.enqueue(self.queue, encode_body(body, self._encoding))
        self._state.put(key, json.dumps({"state": "completed", "at": time.time()}))
        return True


def _stale(stored: str) -> bool:
    try:
        record = json.loads(stored)
        return bool(record.get("state") == "pending" and time.time() - float(record["at"]) > STALE_CLAIM_SECONDS)
    except (ValueError, KeyError, TypeError, AttributeError):
        return True  # an unreadable receipt must not block the blob forever
