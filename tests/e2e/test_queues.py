"""Queue trigger and output on the embedded store: at-least-once, poison, retries, restarts, several workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.hosting import APPS, run_overcast

pytestmark = pytest.mark.e2e


def markers(folder: Path, name: str) -> list[dict[str, object]]:
    path = folder / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(predicate, timeout: float = 40, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def cli(host, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = run_overcast(*args, "--script-root", str(host.app_dir), "--data-dir", str(host.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def test_message_processed_once_and_output_written(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "queue", "send", "orders", "hello")
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the orders message")
    record = markers(marker_dir, "orders")[0]
    assert record["body"] == "hello" and record["dequeue_count"] == 1
    wait_until(lambda: "done:hello" in cli(host, "queue", "peek", "done"), what="the output message")
    host.wait_for("Executing 'Functions.process' (Reason='New queue message detected on 'orders'.'")
    assert cli(host, "queue", "peek", "orders").strip() == ""


def test_http_output_binding_feeds_the_queue_listener(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    assert host.client.post("/api/enqueue/via-http").status_code == 202
    wait_until(lambda: any(m["body"] == "via-http" for m in markers(marker_dir, "orders")), what="chained message")


def test_poison_after_max_dequeue_count(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "queue", "send", "fail", "bad")
    wait_until(lambda: "fail-poison\t1" in cli(host, "poison", "list"), what="the poison message")
    attempts = [m["dequeue_count"] for m in markers(marker_dir, "fail")]
    assert attempts == [1, 2, 3]
    host.wait_for("Message has reached MaxDequeueCount of 3. Moving message to queue 'fail-poison'.")
    assert '"body": "bad"' in cli(host, "queue", "peek", "fail-poison")


def test_poison_requeue(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "queue", "send", "fail", "again")
    wait_until(lambda: "fail-poison\t1" in cli(host, "poison", "list"), what="the poison message")
    assert "Requeued 1 message(s)" in cli(host, "poison", "requeue", "fail-poison")
    wait_until(lambda: len(markers(marker_dir, "fail")) >= 4, what="a new attempt after requeue")


def test_undecodable_message_goes_to_poison_and_host_keeps_serving(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    code = (
        "import sys; from pathlib import Path; from overcast.backends import open_queue_store; "
        "open_queue_store(Path(sys.argv[1])).enqueue('orders', b'%%% not base64 %%%')"
    )
    subprocess.run([sys.executable, "-c", code, str(host.data_dir)], check=True)
    wait_until(lambda: "orders-poison\t1" in cli(host, "poison", "list"), what="the undecodable message in poison")
    host.wait_for("Message decoding has failed! Check MessageEncoding settings.")
    assert markers(marker_dir, "orders") == []
    assert host.client.get("/admin/host/ping").status_code == 200


def test_retry_policy_reruns_within_one_delivery(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "queue", "send", "retry", "x")
    wait_until(lambda: len(markers(marker_dir, "retry")) == 3, what="three attempts")
    assert [(m["retry_count"], m["max"]) for m in markers(marker_dir, "retry")] == [(0, 2), (1, 2), (2, 2)]
    time.sleep(1.5)
    assert len(markers(marker_dir, "retry")) == 3  # succeeded on the last retry: deleted, never redelivered


def test_str_annotation_gets_the_body(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "queue", "send", "plain", '{"a": 1}')
    wait_until(lambda: len(markers(marker_dir, "plain")) == 1, what="plain message")
    assert markers(marker_dir, "plain")[0]["text"] == '{"a": 1}'


def test_messages_survive_a_restart(start_host, marker_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_overcast("queue", "send", "orders", "sent-while-stopped", "--script-root", str(APPS / "queues"),
                          "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    start_host("queues", env={"MARKER_DIR": str(marker_dir)}, data_dir=data)
    wait_until(lambda: any(m["body"] == "sent-while-stopped" for m in markers(marker_dir, "orders")),
               what="the message sent before start")


def test_two_workers_process_each_message_exactly_once(start_host, marker_dir: Path) -> None:
    host = start_host("queues", "--workers", "2", env={"MARKER_DIR": str(marker_dir)})
    for i in range(0, 40, 10):
        cli(host, "queue", "send", "orders", f"m{i}")
    code = (
        "import sys, base64; from pathlib import Path; from overcast.backends import open_queue_store; "
        "s = open_queue_store(Path(sys.argv[1]));"
        "[s.enqueue('orders', base64.b64encode(f'n{i}'.encode())) for i in range(60)]"
    )
    subprocess.run([sys.executable, "-c", code, str(host.data_dir)], check=True)
    wait_until(lambda: len(markers(marker_dir, "orders")) >= 64, what="all messages")
    time.sleep(1.5)
    bodies = [m["body"] for m in markers(marker_dir, "orders")]
    assert sorted(bodies) == sorted([f"m{i}" for i in range(0, 40, 10)] + [f"n{i}" for i in range(60)])


def test_killed_instance_message_is_processed_after_restart(start_host, marker_dir: Path) -> None:
    host = start_host("queues", env={"MARKER_DIR": str(marker_dir), "OVERCAST_QUEUE_LEASE_SECONDS": "3"})
    cli(host, "queue", "send", "slow", "work")
    wait_until(lambda: len(markers(marker_dir, "slow")) == 1, what="the first attempt to start")
    pid = int(markers(marker_dir, "slow")[0]["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: any(m["event"] == "finish" for m in markers(marker_dir, "slow")), what="the retry after restart")
    finish = next(m for m in markers(marker_dir, "slow") if m["event"] == "finish")
    assert finish["dequeue_count"] == 2 and finish["pid"] != pid


def test_manual_invoke_of_a_queue_function(start_host, marker_dir: Path) -> None:
    host = start_host("queues", "--no-auth", env={"MARKER_DIR": str(marker_dir)})
    assert host.client.post("/admin/functions/process", json={"input": "manual"}).status_code == 202
    wait_until(lambda: any(m["body"] == "manual" for m in markers(marker_dir, "orders")), what="manual run")
    manual = next(m for m in markers(marker_dir, "orders") if m["body"] == "manual")
    assert manual["dequeue_count"] == 0 and manual["id"] is None


# -- sizes: Azure Storage queues take at most 64 KiB per message as stored (after the host's base64) -----------------

LARGEST_BODY = 65_536 // 4 * 3  # 49,152 bytes: exactly 64 KiB once base64-encoded


def test_an_output_binding_over_64_kib_fails_the_invocation_as_on_azure(start_host) -> None:
    host = start_host("queues")
    assert host.client.post("/api/enqueue-body/sized", content=b"a" * LARGEST_BODY).status_code == 202
    response = host.client.post("/api/enqueue-body/sized", content=b"a" * (LARGEST_BODY + 1))
    assert response.status_code == 500
    host.wait_for("RequestBodyTooLarge")
    host.wait_for("a message for queue 'sized' is 65,540 bytes as stored")
    peeked = [json.loads(line) for line in cli(host, "queue", "peek", "sized").splitlines()]
    assert [len(m["body"]) for m in peeked] == [LARGEST_BODY]  # the refused one was not stored


def test_queue_send_refuses_a_message_over_64_kib(start_host) -> None:
    host = start_host("queues")
    result = run_overcast("queue", "send", "sized", "-", "--script-root", str(host.app_dir),
                          "--data-dir", str(host.data_dir), input="b" * (LARGEST_BODY + 1))
    assert result.returncode == 1
    assert "RequestBodyTooLarge" in result.stderr and "64 KiB" in result.stderr and "Traceback" not in result.stderr
    assert cli(host, "queue", "peek", "sized").strip() == ""
    assert cli(host, "queue", "send", "sized", "b" * LARGEST_BODY).strip()
