"""Two ``overcast start`` processes, two data folders, one PostgreSQL schema: the writer app (apps/pg_wake_writer)
writes through output bindings; the listener app (apps/pg_wake) has one trigger of each kind, each polling every 10
minutes at most (host.json's Service Bus ``maxPollingInterval``, ``OVERCAST_BLOB_SCAN_SECONDS``, the change feed's
``feedPollDelay``, ``OVERCAST_EVENTGRID_POLL_SECONDS``). Each trigger runs within a small fraction of that after the
other process's write: the write's NOTIFY woke it. A behavioural check with wide margins, not a speed figure (see
bench/postgres_scale.py for those)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hosting import RunningHost
from tests.e2e.pg_cluster import private_database, server

SLOW_POLL = "600"  # s: every listener's poll interval
BOUND = 5.0  # s: the longest a run may take after the write (a wake-up takes milliseconds; a poll, minutes)
# Service Bus backs off from 50 ms to maxPollingInterval while idle: after this long the listener's wait between
# receives is tens of seconds, so a run within BOUND of each write is a wake-up, not a poll that happened to come.
SERVICEBUS_IDLE = 40.0
HOST_ID = "pgwake-e2e"


@pytest.fixture
def database() -> Iterator[str]:
    with private_database(server()) as url:
        yield url


def _runs(markers: Path, kind: str) -> list[str]:
    path = markers / kind
    if not path.exists():
        return []
    return [json.loads(line)["tag"] for line in path.read_text().splitlines() if line.strip()]


def _ran_soon(markers: Path, kind: str, tag: str) -> None:
    deadline = time.monotonic() + BOUND
    while tag not in _runs(markers, kind):
        if time.monotonic() > deadline:
            raise AssertionError(f"the {kind} trigger did not run for {tag!r} within {BOUND} s of the other "
                                 f"instance's write (its poll interval is {SLOW_POLL} s); runs: {_runs(markers, kind)}")
        time.sleep(0.05)


def _publish_event(url: str, tag: str) -> None:
    """An event published to the local topic by another process (a writer with an Event Grid output would also run
    a delivery loop of its own and race the listener for the delivery)."""
    from overcast.backends.registry import BackendTarget, open_backend
    from overcast.eventgrid.events import complete_event
    from overcast.eventgrid.kind import topic_path

    event = complete_event({"id": str(uuid.uuid4()), "subject": f"/wake/{tag}", "eventType": "Wake.Test",
                            "data": {"tag": tag}, "dataVersion": "1.0"}, topic_path("waketopic"), time.time())
    store = open_backend("postgresql", BackendTarget(Path("."), url)).open_eventgrid()
    try:
        store.publish("waketopic", [json.dumps(event)])
    finally:
        store.close()


def test_another_instances_writes_wake_every_trigger(start_host, database: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"AzureWebJobsStorage": database, "AzureFunctionsWebHost__hostid": HOST_ID, "MARKER_DIR": str(markers),
           "OVERCAST_BLOB_SCAN_SECONDS": SLOW_POLL, "OVERCAST_EVENTGRID_POLL_SECONDS": SLOW_POLL}
    listener: RunningHost = start_host("pg_wake", "--verbose", env=env, ready=False)
    listener.wait_ready(timeout=60)
    started = time.monotonic()
    writer: RunningHost = start_host("pg_wake_writer", env=env, ready=False)
    writer.wait_ready(timeout=60)
    listener.wait_for("reads the change feed of 'wakedb/docs'", timeout=30)

    def send(kind: str) -> None:
        tag = f"{kind}-{uuid.uuid4().hex[:8]}"
        assert writer.client.post(f"/api/send/{kind}/{tag}").status_code == 200
        _ran_soon(markers, kind, tag)

    for _ in range(2):  # twice: a wake-up is not a one-off of the listener's first wait
        send("blob")
        send("cosmos")
        tag = f"eventgrid-{uuid.uuid4().hex[:8]}"
        _publish_event(database, tag)
        _ran_soon(markers, "eventgrid", tag)
    time.sleep(max(0.0, SERVICEBUS_IDLE - (time.monotonic() - started)))
    for _ in range(3):
        send("servicebus")
