"""Timer trigger: NCRONTAB with seconds, run_on_startup, past-due after downtime, one firing per occurrence."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_queues import markers, wait_until

pytestmark = pytest.mark.e2e
HOST_ID = "timertests"


def test_run_on_startup_and_every_second(start_host, tmp_path: Path) -> None:
    folder = tmp_path / "markers"
    folder.mkdir()
    host = start_host("timers", "--no-auth", env={"MARKER_DIR": str(folder), "AzureFunctionsWebHost__hostid": HOST_ID})
    wait_until(lambda: len(markers(folder, "yearly")) == 1, what="the run_on_startup firing")
    assert markers(folder, "yearly")[0]["past_due"] is False
    wait_until(lambda: len(markers(folder, "every_second")) >= 3, what="three firings")
    host.wait_for("Executing 'Functions.every_second' (Reason='Timer fired at")


def test_one_firing_per_occurrence_across_two_workers(start_host, tmp_path: Path) -> None:
    folder = tmp_path / "markers"
    folder.mkdir()
    start_host("timers", "--workers", "2", env={"MARKER_DIR": str(folder), "AzureFunctionsWebHost__hostid": HOST_ID})
    wait_until(lambda: len(markers(folder, "every_second")) >= 6, what="six firings")
    time.sleep(1)
    seconds = Counter(m["second"] for m in markers(folder, "every_second"))
    assert max(seconds.values()) == 1, seconds
    assert len({m["pid"] for m in markers(folder, "yearly")}) == 1  # run_on_startup fired by one instance only


def test_past_due_after_downtime(start_host, tmp_path: Path) -> None:
    folder = tmp_path / "markers"
    folder.mkdir()
    data = tmp_path / "data"
    key = f"timers/{HOST_ID}/Host.Functions.hourly/status"
    status = {"Last": "2020-01-01T00:00:00+00:00", "Next": "2020-01-01T01:00:00+00:00",
              "LastUpdated": "2020-01-01T00:00:00+00:00"}
    import subprocess

    code = ("import sys; from pathlib import Path; from overcast.backends import open_state_store; "
            "open_state_store(Path(sys.argv[1])).put(sys.argv[2], sys.argv[3])")
    subprocess.run([sys.executable, "-c", code, str(data), key, json.dumps(status)], check=True)
    start_host("timers", env={"MARKER_DIR": str(folder), "AzureFunctionsWebHost__hostid": HOST_ID}, data_dir=data)
    wait_until(lambda: len(markers(folder, "hourly")) == 1, what="the past-due firing")
    assert markers(folder, "hourly")[0]["past_due"] is True
