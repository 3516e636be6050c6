"""Every KEDA query of the manifests, run against a real PostgreSQL database made by Overcast's migrations, with
real work put in it through the stores: each counts what it says it counts, and nothing else."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from overcast.backends.registry import BackendTarget, StorageBackend, open_backend
from overcast.deploy import pg_signals
from overcast.durable.core import history as h
from overcast.durable.store import NewOrchestration
from overcast.triggers.blob_receipts import trigger_queue_name

CI_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
HOST = "kube"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, StorageBackend]]:
    server = os.environ.get("OVERCAST_TEST_POSTGRES") or (CI_POSTGRES if os.environ.get("CI") else "")
    if not server:
        pytest.skip("set OVERCAST_TEST_POSTGRES to a PostgreSQL URL to run the KEDA queries")
    import psycopg

    schema = f"k_{uuid.uuid4().hex[:16]}"
    url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url, open_backend("postgresql", BackendTarget(tmp_path, url, time.time, HOST))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def count(url: str, query: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]  # built from literals
    assert row is not None
    return int(row[0])


def test_queue_backlog_counts_visible_unexpired_messages_of_its_queue(database: tuple[str, StorageBackend]) -> None:
    url, backend = database
    queues = backend.open_queues()
    for _ in range(3):
        queues.enqueue("orders", b"now")
    queues.enqueue("orders", b"later", delay=3600)
    queues.enqueue("orders", b"gone", ttl=0.001)
    queues.enqueue("other", b"not ours")
    time.sleep(0.01)
    assert count(url, pg_signals.queue_backlog("orders")) == 3
    assert len(queues.receive("orders", 1, 60)) == 1  # a message being processed is not waiting
    assert count(url, pg_signals.queue_backlog("orders")) == 2
    assert count(url, pg_signals.queue_backlog("it's")) == 0  # quoted, not spliced
    queues.close()


def test_blob_backlog_counts_unreceipted_blobs_and_waiting_trigger_messages(
        database: tuple[str, StorageBackend]) -> None:
    url, backend = database
    blobs, state, queues = backend.open_blobs(), backend.open_state(), backend.open_queues()
    query = pg_signals.blob_backlog(HOST, "images", "uploads", "images/")
    assert count(url, query) == 0
    first = blobs.put("uploads", "images/a.png", b"a")
    blobs.put("uploads", "images/b.png", b"b")
    blobs.put("uploads", "other/c.png", b"c")  # outside the trigger's path
    blobs.put("elsewhere", "images/d.png", b"d")  # another container
    assert count(url, query) == 2
    state.put(f"blobreceipts/{HOST}/Host.Functions.images/{first.etag}/uploads/images/a.png", "{}")
    assert count(url, query) == 1  # claimed: no longer counted as a blob ...
    queues.enqueue(trigger_queue_name(HOST), b'{"Type":"BlobTrigger"}')
    assert count(url, query) == 2  # ... but its trigger message waits on the shared queue
    for store in (blobs, state, queues):
        store.close()


def test_timer_due_is_one_before_the_next_occurrence_and_when_it_never_ran(
        database: tuple[str, StorageBackend]) -> None:
    url, backend = database
    state = backend.open_state()
    query = pg_signals.timer_due(HOST, "nightly", 35)
    assert count(url, query) == 1  # never ran: a pod must start to compute the schedule

    def status(next_in: float) -> str:
        now = datetime.now(timezone.utc)
        return json.dumps({"Last": now.isoformat(), "Next": (now + timedelta(seconds=next_in)).isoformat(),
                           "LastUpdated": now.isoformat()})

    key = f"timers/{HOST}/Host.Functions.nightly/status"
    state.put(key, status(3600))
    assert count(url, query) == 0
    state.put(key, status(20))
    assert count(url, query) == 1
    state.close()


def test_durable_pending_counts_ready_work_of_its_own_hub(database: tuple[str, StorageBackend]) -> None:
    url, backend = database
    durable = backend.open_durable()

    def start(hub: str) -> None:
        instance_id, execution_id = uuid.uuid4().hex, uuid.uuid4().hex
        started = h.execution_started(name="greet", instance_id=instance_id, execution_id=execution_id,
                                      input_json=None, now=datetime.now(timezone.utc))
        assert durable.create_instance(hub, NewOrchestration(instance_id, "greet", execution_id, None, started))[0]

    start("KubeHub")
    start("KubeHub")
    start("OtherHub")
    assert count(url, pg_signals.durable_pending("KubeHub")) == 2
    [lease] = durable.lease_orchestrations("KubeHub", "pod-1", 30, 1)
    assert lease.messages and count(url, pg_signals.durable_pending("KubeHub")) == 1  # a held one is running
    durable.close()


def test_every_query_in_the_generated_manifests_runs(database: tuple[str, StorageBackend],
                                                     kube_manifests: list[dict[str, Any]]) -> None:
    url, backend = database
    backend.open_state().close()  # the first store opened migrates the schema
    [scaled] = [d for d in kube_manifests if d["kind"] == "ScaledObject"]
    values = {t["name"].split("-", 1)[1]: count(url, t["metadata"]["query"]) for t in scaled["spec"]["triggers"]}
    # Only the timer that never ran and the change feed without leases ask for a pod.
    assert values == {"durable-kubehub": 0, "blobs-uploads-images-name": 0, "timer-nightly": 1, "queue-orders": 0,
                      "service-bus-jobs": 0, "event-hub-telemetry-default": 0, "cosmos-shop-orders": 1,
                      "event-grid-blobtrigger-evented": 0}


def test_servicebus_active_counts_takeable_messages_and_dead_letters(database: tuple[str, StorageBackend]) -> None:
    from overcast.backends.servicebus_store import OutgoingMessage

    url, backend = database
    bus = backend.open_servicebus()
    bus.ensure("jobs", "queue")
    bus.send("jobs", [OutgoingMessage(b"1"), OutgoingMessage(b"2"), OutgoingMessage(b"3")])
    active, dead = pg_signals.servicebus_active("jobs", False), pg_signals.servicebus_active("jobs", True)
    assert (count(url, active), count(url, dead)) == (3, 0)
    [locked, to_dead] = bus.receive("jobs", 2)  # locked messages are being processed, not waiting
    assert count(url, active) == 1
    assert bus.dead_letter("jobs", to_dead.lock_token, "Bad", "test")
    assert (count(url, active), count(url, dead)) == (1, 1)
    assert bus.settle("jobs", [locked.lock_token], "abandon") == [True]  # back to waiting
    assert count(url, active) == 2
    bus.close()


def test_eventhub_lag_counts_events_past_the_groups_checkpoints(database: tuple[str, StorageBackend]) -> None:
    from overcast.backends.eventhubs_store import EventData

    url, backend = database
    hubs = backend.open_eventhubs()
    hubs.ensure_hub("telemetry", 2, ["audit"])
    for _ in range(3):
        hubs.send("telemetry", [EventData(b"x")], partition_id="0")
    hubs.send("telemetry", [EventData(b"y"), EventData(b"z")], partition_id="1")
    lag = pg_signals.eventhub_lag("telemetry", "$default")
    assert count(url, lag) == 5
    hubs.set_checkpoint("telemetry", "$Default", "0", 1, "0")  # events 0 and 1 of partition 0 done
    assert count(url, lag) == 3
    assert count(url, pg_signals.eventhub_lag("telemetry", "audit")) == 5  # another group keeps its own place
    hubs.close()


def test_cosmos_lag_counts_changes_after_each_ranges_lease(database: tuple[str, StorageBackend]) -> None:
    url, backend = database
    docs = backend.open_documents()
    prefix = "overcast_shop_orders.."
    query = pg_signals.cosmos_lag("shop", "orders", "shop", "leases", prefix)
    docs.create_container("shop", "orders", "/id", 1)
    docs.create_container("shop", "leases", "/id", 1)
    for n in range(3):
        docs.write("shop", "orders", {"id": f"o{n}"})
    assert count(url, query) == 1  # no lease yet: the trigger must start to create them
    docs.write("shop", "leases", {"id": f"{prefix}0", "LeaseToken": "0", "ContinuationToken": "0", "Owner": None})
    assert count(url, query) == 3
    first = docs.read_feed("shop", "orders", None, 0, 10)[0]  # the lease's owner handled the first change
    docs.write("shop", "leases", {"id": f"{prefix}0", "LeaseToken": "0", "ContinuationToken": str(first.sequence),
                                  "Owner": "pod-1"})
    assert count(url, query) == 2
    docs.close()


def test_eventgrid_pending_counts_unrouted_events_and_the_subscriptions_deliveries(
    database: tuple[str, StorageBackend]
) -> None:
    from overcast.backends.eventgrid_store import Route

    url, backend = database
    grid = backend.open_eventgrid()
    query = pg_signals.eventgrid_pending(["blobtrigger-images"])
    assert count(url, query) == 0
    grid.publish("storage", ['{"id": "1"}', '{"id": "2"}'])
    assert count(url, query) == 2  # not routed yet: they may be for this subscription
    grid.fan_out(lambda topic, event, published: [Route("blobtrigger-images", published + 60),
                                                  Route("blobtrigger-other", published + 60)], 10)
    assert count(url, query) == 2  # one delivery each for this subscription; the other's are not counted
    grid.claim(10, 60, ["blobtrigger-other"])
    assert count(url, query) == 0  # claimed: hidden until its lease ends
    grid.close()
