"""Three ``overcast start`` processes, three data folders, one PostgreSQL database: the work is shared, each piece
runs once, timers fire once per occurrence, durable activities spread over the instances, keys made by one instance
open the others, and a killed instance's messages and orchestrations are finished by the others after their
visibility timeout or lease."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest

from tests.e2e.hosting import APPS, RunningHost
from tests.e2e.pg_cluster import enqueue, keys_of, private_database, query, queued_json, server

APP = APPS / "pg_scale"
HOST_ID = "pgscale-e2e"


@pytest.fixture
def database() -> Iterator[str]:
    with private_database(server()) as url:
        yield url


def _env(url: str, **extra: str) -> dict[str, str]:
    return {"AzureWebJobsStorage": url, "AzureFunctionsWebHost__hostid": HOST_ID, **extra}


def _wait(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_three_instances_share_queues_timers_durable_work_and_keys(start_host, database: str, tmp_path) -> None:
    env = _env(database)
    hosts: list[RunningHost] = [start_host("pg_scale", env=env, ready=False) for _ in range(3)]
    for host in hosts:
        host.wait_ready(timeout=60)
    pids = {host.client.get("/api/whoami", params={"code": keys_of(APP, host.data_dir, env)["master"]}).text
            for host in hosts}
    assert len(pids) == 3

    # 2,000 queue messages, each processed exactly once, by all three instances.
    total = 2000
    enqueue(database, "work", [f"m{i}" for i in range(total)])
    _wait("2,000 messages", lambda: query(database, "SELECT count(*) FROM queue_messages WHERE queue = 'done'")[0][0]
          >= total, timeout=240)
    time.sleep(1)  # a duplicate would show up now
    done = queued_json(database, "done")
    bodies = Counter(item["body"] for item in done)
    assert len(done) == total and set(bodies) == {f"m{i}" for i in range(total)}
    assert max(bodies.values()) == 1
    by_process = Counter(item["pid"] for item in done)
    assert len(by_process) == 3, by_process
    assert query(database, "SELECT count(*) FROM queue_messages WHERE queue = 'work'")[0][0] == 0

    # A timer firing every 2 s: each occurrence once, whichever instance holds its lease.
    ticks = sorted(item["at"] for item in queued_json(database, "ticks"))
    assert ticks, "the timer never fired"
    assert all(later - earlier > 1.0 for earlier, later in pairwise(ticks)), ticks

    # A durable fan-out of 300 activities, spread over the instances.
    instance_id = hosts[0].client.post("/api/fanout/300").text

    def finished() -> bool:
        status = hosts[1].client.get(f"/api/status/{instance_id}").json()
        return bool(status["runtimeStatus"] == "Completed")

    _wait("the fan-out", finished, timeout=180)
    output = hosts[2].client.get(f"/api/status/{instance_id}").json()["output"]
    assert sorted(item["index"] for item in output) == list(range(300))
    assert len({item["pid"] for item in output}) >= 2

    # A key created through one instance's admin API opens the function on the others.
    master = keys_of(APP, hosts[0].data_dir, env)["master"]
    created = hosts[0].client.put("/admin/functions/whoami/keys/shared", headers={"x-functions-key": master},
                                  json={"name": "shared", "value": "shared-key-made-by-instance-0"})
    assert created.status_code in (200, 201)
    for host in hosts[1:]:
        assert host.client.get("/api/whoami", params={"code": "shared-key-made-by-instance-0"}).status_code == 200
    assert len({keys_of(APP, h.data_dir, env)["master"] for h in hosts}) == 1


def test_a_killed_instances_messages_are_finished_by_the_others(start_host, database: str) -> None:
    env = _env(database, PG_SCALE_WORK_SECONDS="0.02", OVERCAST_QUEUE_LEASE_SECONDS="5")
    hosts = [start_host("pg_scale", env=env, ready=False) for _ in range(3)]
    for host in hosts:
        host.wait_ready(timeout=60)
    master = keys_of(APP, hosts[0].data_dir, env)["master"]
    victim = int(hosts[0].client.get("/api/whoami", params={"code": master}).text)
    total = 600
    enqueue(database, "work", [f"k{i}" for i in range(total)])
    _wait("work in progress", lambda: query(database, "SELECT count(*) FROM queue_messages WHERE queue = 'done'")[0][0]
          >= 60, timeout=60)
    hosts[0].proc.send_signal(signal.SIGKILL)  # the supervisor first, so that nothing restarts the instance
    os.kill(victim, signal.SIGKILL)
    _wait("every message", lambda: query(database, "SELECT count(*) FROM queue_messages WHERE queue = 'work'")[0][0]
          == 0, timeout=180)
    time.sleep(1)
    done = {item["body"] for item in queued_json(database, "done")}
    assert done == {f"k{i}" for i in range(total)}  # nothing lost (a killed run may repeat, as on Azure)


def test_a_killed_instances_orchestrations_are_finished_by_the_others_once(start_host, database: str) -> None:
    env = _env(database, OVERCAST_DURABLE_LEASE_SECONDS="3")
    hosts = [start_host("pg_scale", env=env, ready=False) for _ in range(3)]
    for host in hosts:
        host.wait_ready(timeout=60)
    master = keys_of(APP, hosts[0].data_dir, env)["master"]
    victim = int(hosts[0].client.get("/api/whoami", params={"code": master}).text)
    total = 60
    ids = hosts[1].client.post(f"/api/chains/{total}").json()
    assert len(ids) == total

    def completed() -> int:
        return int(query(database, "SELECT count(*) FROM durable_instances WHERE status = 'Completed'")[0][0])

    _wait("orchestrations in progress", lambda: completed() >= 5, timeout=60)
    hosts[0].proc.send_signal(signal.SIGKILL)  # the supervisor first, so that nothing restarts the instance
    os.kill(victim, signal.SIGKILL)
    _wait("every orchestration", lambda: completed() == total, timeout=180)
    outputs = query(database, "SELECT instance_id, output FROM durable_instances")
    assert {row[0]: json.loads(row[1]) for row in outputs} == {i: [0, 1, 2, 3] for i in ids}
    # Each episode was committed once: four activities scheduled and four results in every history, whoever ran it.
    kinds = query(database, "SELECT instance_id, event::jsonb->>'EventType', count(*) FROM durable_history "
                            "WHERE event::jsonb->>'EventType' IN ('4', '5') GROUP BY 1, 2")
    assert {(row[0], row[1]): row[2] for row in kinds} == {(i, kind): 4 for i in ids for kind in ("4", "5")}
    assert query(database, "SELECT count(*) FROM durable_inbox")[0][0] == 0
