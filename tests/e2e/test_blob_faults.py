"""Fault item: blobs claimed by an instance that is killed before it queues their trigger are never lost.

Two bounded tests: the crash window itself (a claim a killed instance left pending, seeded in the store while the
host is down, is taken over once it goes stale) and a kill window (a handful of SIGKILLs of an instance while blobs
are written; every blob fires at least once).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from overcast.backends import open_blob_store, open_state_store
from overcast.triggers.blob_receipts import STALE_CLAIM_SECONDS
from tests.e2e.test_blobs_tables import FAST_SCAN, put_blob
from tests.e2e.test_queues import wait_until

pytestmark = pytest.mark.e2e
HOST_ID = "blobfaults"


def fired(marker_dir: Path) -> set[str]:
    """Blob names the trigger ran for (a line cut short by a kill is skipped: its blob runs again)."""
    path = marker_dir / "uploads"
    names = set()
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(ValueError):
            names.add(str(json.loads(line)["name"]))
    return names


def env_for(marker_dir: Path) -> dict[str, str]:
    return {"MARKER_DIR": str(marker_dir), "AzureFunctionsWebHost__hostid": HOST_ID, **FAST_SCAN}


def test_a_claim_left_pending_by_a_killed_instance_is_taken_over(start_host, tmp_path: Path) -> None:
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    data_dir = tmp_path / "data"
    host = start_host("storage", env=env_for(marker_dir), data_dir=data_dir)
    assert host.client.put("/api/files/first", content=b"1").status_code == 201
    wait_until(lambda: fired(marker_dir) == {"uploads/first.txt"}, what="the first blob")
    host.stop()
    # What a killed instance leaves behind: the blob, its receipt claimed a moment ago, no trigger message.
    put_blob(host, tmp_path, "uploads/claimed.txt", b"claimed")
    blobs, state = open_blob_store(data_dir), open_state_store(data_dir)
    try:
        props = blobs.properties("uploads", "claimed.txt")
        assert props is not None
        claimed_at = time.time() - STALE_CLAIM_SECONDS + 8  # stale 8 s from now: scans meet it fresh first
        state.put(f"blobreceipts/{HOST_ID}/Host.Functions.on_upload/{props.etag}/uploads/claimed.txt",
                  json.dumps({"state": "pending", "at": claimed_at}))
    finally:
        blobs.close()
        state.close()
    host = start_host("storage", env=env_for(marker_dir), data_dir=data_dir)
    # Scans meet the claim while it is fresh, keep the blob in view, and take it over once it is stale.
    wait_until(lambda: "uploads/claimed.txt" in fired(marker_dir), timeout=30, what="the claimed blob")
    host.wait_for("Taking over the stale claim on blob 'uploads/claimed.txt'")


def test_every_blob_fires_despite_instances_killed_while_blobs_are_written(start_host, tmp_path: Path) -> None:
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    # Messages a killed instance had received come back when their lease runs out (10 min by default).
    host = start_host("storage", "--workers", "2",
                      env={**env_for(marker_dir), "OVERCAST_QUEUE_LEASE_SECONDS": "3"})
    written: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=host.base, timeout=30) as client:
            for i in range(60):
                while not stop.is_set():  # a request cut by a kill is sent again, as a client would
                    with contextlib.suppress(httpx.HTTPError):
                        if client.put(f"/api/files/k{i}", content=f"k{i}".encode()).status_code == 201:
                            written.append(f"uploads/k{i}.txt")
                            break
                    time.sleep(0.05)
                time.sleep(0.05)  # spread the writes over the kills

    writer = threading.Thread(target=write)
    writer.start()
    kills = 0
    try:
        while kills < 5 and writer.is_alive():
            time.sleep(0.5)
            with contextlib.suppress(httpx.HTTPError), httpx.Client(base_url=host.base, timeout=10) as client:
                os.kill(int(client.get("/api/pid").text), signal.SIGKILL)  # an instance of the host we started
                kills += 1
    finally:
        writer.join(timeout=120)
        stop.set()
    assert len(written) == 60
    # A blob whose claim died with its instance fires once the claim is stale (30 s) and a scan takes it over.
    deadline = time.monotonic() + STALE_CLAIM_SECONDS + 30
    while not set(written) <= fired(marker_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(set(written) - fired(marker_dir)) == []
    assert kills >= 3 and host.output.count("; restarting.") == kills
