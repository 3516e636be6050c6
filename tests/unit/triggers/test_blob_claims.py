"""Fault item: an instance killed between claiming a blob's receipt and queueing its trigger message must not lose
the blob. The crash window is reproduced exactly on the in-memory stores with a hand-moved clock: the claim is
written, the enqueue never happens, and another scanner (or the restarted instance) must still queue the blob."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from overcast.app.spec import FunctionSpec
from overcast.backends.base import QueuedMessage
from overcast.backends.memory import MemoryBlobStore, MemoryLeaseStore, MemoryQueueStore, MemoryStateStore
from overcast.bindings.expressions import BlobPathPattern
from overcast.invoke.model import Invocation
from overcast.triggers.blob import BlobQueueListener, BlobTriggers
from overcast.triggers.blob_receipts import STALE_CLAIM_SECONDS, BlobReceipts, BlobWatch
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.wakeup import Wakeups


class Killed(BaseException):
    """The instance died here: nothing after this point runs."""


class KilledBeforeEnqueue(MemoryQueueStore):
    """The queues as a dying instance sees them: the process is gone before the enqueue reaches the store."""

    def enqueue(self, queue: str, body: bytes, *, delay: float = 0.0, ttl: float | None = None) -> QueuedMessage:
        raise Killed


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Cluster:
    """The shared store of several instances; each instance gets its own receipts and scanner over it."""

    def __init__(self) -> None:
        self.clock = Clock(1_000_000.0)
        self.state = MemoryStateStore()
        self.queues = MemoryQueueStore(self.clock)
        self.blobs = MemoryBlobStore(self.clock)
        self.leases = MemoryLeaseStore(self.clock)
        spec = FunctionSpec(name="onblob", func=lambda: None, bindings=(), directory="", script_file="")
        self.watch = BlobWatch(spec, BlobPathPattern.parse("box/{name}"))

    def instance(self, name: str, queues: MemoryQueueStore | None = None) -> BlobTriggers:
        queues = queues or self.queues
        receipts = BlobReceipts(self.state, queues, "host", "none", self.clock)

        async def never(*_: Any) -> Any:
            raise AssertionError("scans never invoke functions")

        invoke: Callable[[Invocation], Any] = never
        listener = BlobQueueListener({self.watch.function_id: self.watch}, self.blobs, {}, receipts.queue, queues,
                                     invoke, QueueOptions(), Wakeups(), never)
        return BlobTriggers([self.watch], self.blobs, self.state, self.leases, receipts, listener, Wakeups(), never,
                            "host", name, clock=self.clock)

    def queued(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.queues.receive("azure-webjobs-blobtrigger-host", 32, 300)]

    def scan_time(self) -> float:
        """The stored scan time of the container (-inf before the first complete scan)."""
        stored = json.loads(self.state.get("blobscaninfo/host/box/scanInfo") or "{}")
        return float(stored.get("LatestScanEpoch", "-inf"))


def _killed_while_notified(cluster: Cluster) -> None:
    props = cluster.blobs.put("box", "report.csv", b"1")
    with pytest.raises(Killed):  # its own output binding wrote the blob; the instance dies after the claim
        cluster.instance("a", KilledBeforeEnqueue(cluster.clock)).notify_written(props)


def _killed_while_scanning(cluster: Cluster) -> None:
    cluster.blobs.put("box", "report.csv", b"1")
    dying = cluster.instance("a", KilledBeforeEnqueue(cluster.clock))
    with pytest.raises(Killed):  # the scanner itself claims the blob, then dies (its scan lease runs out later)
        dying.scan("box")


@pytest.mark.parametrize("killed", [_killed_while_notified, _killed_while_scanning])
@pytest.mark.parametrize("rescanner", ["the-same-scanner", "a-restarted-instance"])
def test_a_claim_left_by_a_killed_instance_is_taken_over(killed: Callable[[Cluster], None], rescanner: str) -> None:
    cluster = Cluster()
    killed(cluster)
    cluster.clock.now += 1
    survivor = cluster.instance("b")
    assert not survivor.scan("box")  # the claim is fresh: it may still be someone's work in progress
    assert cluster.queued() == []
    assert cluster.scan_time() <= cluster.clock.now - 1  # the scan time stays at the unsettled blob

    cluster.clock.now += 5
    assert not survivor.scan("box")  # scans in between keep the blob in view
    cluster.clock.now += STALE_CLAIM_SECONDS + 1  # well past the scan overlap: only the held scan time finds it
    scanner = survivor if rescanner == "the-same-scanner" else cluster.instance("c")
    assert scanner.scan("box")
    assert [m["BlobName"] for m in cluster.queued()] == ["report.csv"]
    assert cluster.scan_time() > cluster.clock.now - 1  # settled: the scan time moves on

    cluster.clock.now += STALE_CLAIM_SECONDS + 1
    assert not scanner.scan("box")
    assert cluster.queued() == []  # completed now: it never triggers again


def test_a_claim_completed_by_its_owner_releases_the_scan_time() -> None:
    cluster = Cluster()
    props = cluster.blobs.put("box", "a.txt", b"1")
    owner = BlobReceipts(cluster.state, cluster.queues, "host", "none", cluster.clock)
    key = f"blobreceipts/host/{cluster.watch.function_id}/{props.etag}/box/a.txt"
    cluster.state.put(key, json.dumps({"state": "pending", "at": cluster.clock.now}))  # the owner is mid-way
    cluster.clock.now += 1
    scanner = cluster.instance("b")
    assert not scanner.scan("box")
    assert cluster.scan_time() <= props.last_modified.timestamp()
    cluster.state.delete(key)
    owner.notify(cluster.watch, props)  # the owner finishes (its message is queued, the receipt completed)
    cluster.clock.now += 1
    assert not scanner.scan("box")
    assert cluster.scan_time() == cluster.clock.now
    assert [m["BlobName"] for m in cluster.queued()] == ["a.txt"]
