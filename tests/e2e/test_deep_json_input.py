"""Fault item: JSON nested deeper than Python's reader goes. A queue message with it goes to poison on its first
attempt with a log line saying why (not after maxDequeueCount leases of 10 minutes); the durable API answers 400."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_queues import cli, markers, wait_until

pytestmark = pytest.mark.e2e
DEEP = "nested too deeply to read"


def test_a_deeply_nested_queue_message_goes_to_poison_at_once(start_host, tmp_path: Path) -> None:
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    # 15,000 nested brackets (40 KB in base64, within Azure's 64 KiB), put straight into the store ...
    body = base64.b64encode(('{"a":' + "[" * 15_000 + "]" * 15_000 + "}").encode())
    code = ("import sys; from pathlib import Path; from overcast.backends import open_queue_store; "
            "open_queue_store(Path(sys.argv[1])).enqueue('orders', sys.stdin.buffer.read())")
    subprocess.run([sys.executable, "-c", code, str(host.data_dir)], input=body, check=True)
    # ... and one sent as a user would.
    (tmp_path / "deep.json").write_text('{"id": "x", "b":' + '{"a":' * 7_000 + "1" + "}" * 7_001)
    with (tmp_path / "deep.json").open() as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "overcast", "queue", "send", "orders", "-", "--script-root", str(host.app_dir),
             "--data-dir", str(host.data_dir)], stdin=stdin, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: "orders-poison\t2" in cli(host, "poison", "list"), what="both messages in poison")
    line = host.wait_for(f"The message body is JSON {DEEP}")
    assert "of queue 'orders' cannot be read" in line and "Moving message to queue 'orders-poison'." in line
    assert sum(f"JSON {DEEP}" in entry for entry in host.lines) == 2  # one attempt each
    assert markers(marker_dir, "orders") == []  # the function never ran
    assert "Settling message" not in host.output  # nothing escaped the listener
    cli(host, "queue", "send", "orders", '{"id": "flat"}')  # the queue goes on
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the next message")


def test_the_durable_api_answers_400_to_deeply_nested_bodies(start_host) -> None:
    host = start_host("durable", "--no-auth")
    deep = "[" * 100_000 + "]" * 100_000
    headers = {"Content-Type": "application/json"}
    start = host.client.post("/runtime/webhooks/durabletask/orchestrators/approval", content=deep,
                             headers=headers)
    assert start.status_code == 400 and DEEP in start.json()["ExceptionMessage"]
    started = host.client.post("/runtime/webhooks/durabletask/orchestrators/approval", content="1",
                               headers=headers)
    assert started.status_code == 202
    raised = host.client.post(f"/runtime/webhooks/durabletask/instances/{started.json()['id']}/raiseEvent/go",
                              content=deep, headers=headers)
    assert raised.status_code == 400 and DEEP in raised.json()["ExceptionMessage"]
    assert host.client.get("/admin/host/ping").status_code == 200
