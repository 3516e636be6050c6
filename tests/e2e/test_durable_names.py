"""Fault items: durable instance ids built from invalid UTF-8 (two ids would collapse into one) are refused, in the
HTTP API and the CLI; an invalid task hub name stops the start with one line and exit code 3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.hosting import APPS, free_port, run_overcast

pytestmark = pytest.mark.e2e
API = "/runtime/webhooks/durabletask"


def test_instance_ids_from_invalid_utf8_are_400(start_host) -> None:
    host = start_host("durable", "--no-auth")
    headers = {"Content-Type": "application/json"}
    for raw in ("a%FF", "a%FE", "a%C3", "a%EF%BF%BD"):  # the last is U+FFFD itself: what the others decode to
        answer = host.client.post(f"{API}/orchestrators/approval/{raw}", content="1", headers=headers)
        assert answer.status_code == 400, raw
        assert "is not valid UTF-8 text" in answer.json()["ExceptionMessage"]
        assert host.client.get(f"{API}/instances/{raw}").status_code == 400
    started = host.client.post(f"{API}/orchestrators/approval/caf%C3%A9", content="1", headers=headers)
    assert started.status_code == 202 and started.json()["id"] == "café"  # valid UTF-8 is an ordinary id
    assert host.client.get(f"{API}/instances/caf%C3%A9").json()["instanceId"] == "café"


def test_the_cli_refuses_an_instance_id_that_is_not_utf8(tmp_path: Path) -> None:
    result = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"overcast", b"durable", b"show", b"a\xff",
         b"--script-root", os.fsencode(APPS / "durable"), b"--data-dir", os.fsencode(tmp_path / "data")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "Instance ID 'a\\udcff' is not valid UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("hub", ["bad name!", "ab", "1hub", "x" * 51])
def test_an_invalid_task_hub_name_stops_the_start(tmp_path: Path, hub: str) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "durable", app)
    (app / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": {"hubName": hub}}}))
    result = run_overcast("start", "--script-root", str(app), "--port", str(free_port()),
                          "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 3
    expected = (f"host.json extensions.durableTask.hubName: Task hub name '{hub}' should contain only alphanumeric "
                "characters, start with a letter, and have length between 3 and 50.")
    assert [line for line in (result.stdout + result.stderr).splitlines() if "hubName" in line] == [expected]
    assert "Traceback" not in result.stdout + result.stderr
    listed = run_overcast("durable", "list", "--script-root", str(app), "--data-dir", str(tmp_path / "data"))
    assert listed.returncode != 0 and expected in listed.stderr
