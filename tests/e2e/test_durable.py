"""Durable Functions end to end: the real SDK in the app, its real client over HTTP, the embedded store."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.hosting import run_overcast
from tests.e2e.test_queues import wait_until

pytestmark = pytest.mark.e2e
HUB = "OvercastTests"


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def start(host, name: str, payload: Any = None, instance_id: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    params = {"id": instance_id} if instance_id else {}
    body = json.dumps(payload) if payload is not None else b""
    response = host.client.post(f"/api/orchestrators/{name}", content=body, params=params)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["statusQueryGetUri"]
    return dict(response.json())


def status(host, instance_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    for _ in range(50):
        try:
            response = host.client.get(f"/api/status/{instance_id}")
            break
        except httpx.TransportError:  # an instance process was killed under a kept-alive connection
            time.sleep(0.1)
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(host, instance_id: str, timeout: float = 40) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    done: dict[str, Any] = {}

    def check() -> bool:
        done.update(status(host, instance_id))
        return done["runtimeStatus"] in ("Completed", "Failed", "Terminated")

    wait_until(check, timeout=timeout, what=f"instance {instance_id} to finish")
    return done


def run(host, name: str, payload: Any = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return finished(host, start(host, name, payload)["id"])


def test_chain_and_status_urls(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    payload = start(host, "chain", ["Tokyo", "Seattle"])
    for key in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
        assert payload[key].startswith(f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/instances/")
    result = finished(host, payload["id"])
    assert result["runtimeStatus"] == "Completed"
    assert result["output"] == ["Hello Tokyo!", "Hello Seattle!"]
    names = [e.get("FunctionName") for e in result["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert names == ["hello", "hello"]
    # The statusQueryGetUri works as given (the system key is in it).
    polled = host.client.get(payload["statusQueryGetUri"])
    assert polled.status_code == 200 and polled.json()["runtimeStatus"] == "Completed"


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("fan_out", 300, sum(range(300)) * 2),
        ("first_of", None, "activity"),
        ("counter_loop", 0, 3),
        ("caught", None, None),
        ("use_counter", "orch", 15),
    ],
)
def test_patterns(start_host, name: str, payload: Any, expected: Any) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    result = run(host, name, payload)
    assert result["runtimeStatus"] == "Completed", result
    if name == "caught":
        assert result["output"].startswith("caught: Activity function 'explode' failed:  RuntimeError:")
    else:
        assert result["output"] == expected


def test_timer_retry_and_sub_orchestrations(start_host, marker_dir: Path) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable", env={"MARKER_DIR": str(marker_dir)})
    timer = start(host, "short_timer")["id"]
    retry = start(host, "with_retry")["id"]
    parent = start(host, "parent")["id"]
    assert finished(host, timer)["output"] >= 1.0
    retried = finished(host, retry)
    assert retried["output"] == "ok after 3"
    kinds = [e["EventType"] for e in retried["historyEvents"]]
    assert kinds.count("TaskFailed") == 2 and kinds.count("TimerFired") == 2
    nested = finished(host, parent)
    assert nested["output"] == [["Hello A!"], ["Hello B!"], "child ok after 2"]
    assert status(host, f"{parent}:child")["runtimeStatus"] == "Completed"  # the explicit child id


def test_failure_propagates_with_the_azure_text(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    result = run(host, "failing")
    assert result["runtimeStatus"] == "Failed"
    assert result["output"].startswith(
        "Orchestrator function 'failing' failed: Activity function 'explode' failed:  RuntimeError: activity failed"
    )


def test_rewind_reruns_the_failed_activity(start_host, marker_dir: Path) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable", env={"MARKER_DIR": str(marker_dir)})
    instance = start(host, "fails_once")["id"]
    assert finished(host, instance)["runtimeStatus"] == "Failed"
    assert host.client.post(f"/api/rewind/{instance}").status_code == 202
    wait_until(lambda: status(host, instance)["runtimeStatus"] == "Completed", what="the rewound instance")
    assert status(host, instance)["output"] == ["Hello before!", "attempt 2"]


def test_external_events_buffered_and_raised_through_the_client_and_webhook(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    payload = start(host, "events_in_order")
    instance = payload["id"]
    # Raised before the orchestrator waits for it: buffered.
    assert host.client.post(f"/api/raise/{instance}/Second", content=json.dumps({"n": 2})).status_code == 202
    # Raised through sendEventPostUri with a JSON body: the orchestrator gets the JSON value.
    url = payload["sendEventPostUri"].replace("{eventName}", "First")
    assert host.client.post(url, json={"n": 1}).status_code == 202
    result = finished(host, instance)
    # Through the Python client the body is double-encoded, so the orchestrator receives a str (Azure does too).
    assert result["output"] == [{"n": 1}, '{"n": 2}']


def test_human_interaction_approval_and_timeout(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    approved = start(host, "approval", 30)["id"]
    timed_out = start(host, "approval", 1)["id"]
    wait_until(lambda: status(host, approved)["runtimeStatus"] == "Running", what="approval waiting")
    host.client.post(f"/api/raise/{approved}/Approval", content=json.dumps(True))
    assert finished(host, approved)["output"] == {"approved": "true"}
    assert finished(host, timed_out)["output"] == "timed out"


def test_terminate_and_custom_status_and_determinism(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    forever = start(host, "waits_forever")["id"]
    wait_until(lambda: status(host, forever)["runtimeStatus"] == "Running", what="running")
    assert host.client.post(f"/api/terminate/{forever}").status_code == 202
    ended = finished(host, forever)
    assert ended["runtimeStatus"] == "Terminated" and ended["output"] == "stopped by test"
    assert ended["customStatus"] == "waiting"  # kept: the orchestrator does not run again
    result = run(host, "deterministic")
    assert result["customStatus"] == "done"
    first, second = result["output"]["uuids"]
    assert first != second and len(first) == 36


def test_suspend_holds_events_until_resume(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    payload = start(host, "events_in_order")
    instance = payload["id"]
    wait_until(lambda: status(host, instance)["runtimeStatus"] == "Running", what="running")
    suspend = payload["suspendPostUri"].replace("{text}", "pause")
    assert host.client.post(suspend).status_code == 202
    wait_until(lambda: status(host, instance)["runtimeStatus"] == "Suspended", what="suspended")
    for name in ("First", "Second"):
        host.client.post(f"/api/raise/{instance}/{name}", content=json.dumps(name))
    time.sleep(1)  # the engine had every chance to run the events: they must wait
    assert status(host, instance)["runtimeStatus"] == "Suspended"
    assert host.client.post(payload["resumePostUri"].replace("{text}", "go")).status_code == 202
    assert finished(host, instance)["output"] == ['"First"', '"Second"']


def test_wait_for_completion_and_call_http(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    response = host.client.post("/api/run/chain", content=json.dumps(["Oslo"]))
    assert response.status_code == 200 and response.json() == ["Hello Oslo!"]
    url = f"http://127.0.0.1:{host.port}/api/slow/2"
    result = run(host, "http_call", url)
    assert result["output"] == {"status": 200, "content": {"done": True}}


def test_entities_from_the_client(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    assert host.client.get("/api/counter/c1").status_code == 404
    for amount in (1, 2, 3):
        host.client.post("/api/counter/c1/add", content=json.dumps(amount))
    wait_until(lambda: host.client.get("/api/counter/c1").text == "6", what="entity state 6")
    host.client.post("/api/counter/c1/delete")
    wait_until(lambda: host.client.get("/api/counter/c1").status_code == 404, what="entity deleted")


def test_instances_survive_a_sigkill(start_host, marker_dir: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"MARKER_DIR": str(marker_dir), "OVERCAST_DURABLE_LEASE_SECONDS": "3"}
    host = start_host("durable", env=env)
    waiting = start(host, "approval", 600)["id"]
    fan = start(host, "fan_out", 200)["id"]
    wait_until(lambda: len(markers(marker_dir)) >= 20, what="some activities to run")
    pid = int(host.client.get("/api/pid").text)
    os.kill(pid, signal.SIGKILL)  # the instance process, mid fan-out; the supervisor starts a new one
    assert finished(host, fan, timeout=60)["output"] == sum(range(200)) * 2
    # Activities run at least once: only those in flight when the process died ran twice.
    assert 200 <= len(markers(marker_dir)) <= 200 + 32
    host.client.post(f"/api/raise/{waiting}/Approval", content=json.dumps("yes"))
    assert finished(host, waiting)["output"] == {"approved": '"yes"'}
    assert int(host.client.get("/api/pid").text) != pid  # a new instance process serves


def markers(folder: Path) -> list[str]:
    path = folder / "double"
    return path.read_text().split() if path.exists() else []


def test_two_workers_share_the_task_hub(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable", "--workers", "2")
    ids = [start(host, "chain", [f"w{i}"])["id"] for i in range(20)]
    ids.append(start(host, "fan_out", 100)["id"])
    results = [finished(host, i, timeout=60) for i in ids]
    assert [r["output"] for r in results[:20]] == [[f"Hello w{i}!"] for i in range(20)]
    assert results[20]["output"] == sum(range(100)) * 2


def test_an_http_only_instance_starts_work_that_another_instance_runs(start_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Kubernetes manifests' split: the HTTP deployment (durable clients only, by an allow list) starts
    orchestrations and signals entities of the app, and never claims their work; the background deployment runs it."""
    data = tmp_path / "shared"

    def only(*functions: str) -> dict[str, str]:
        return {f"AzureFunctionsJobHost__functions__{n}": name for n, name in enumerate(functions)}

    front = start_host("durable", env=only("start", "status", "signal_counter", "read_counter", "pid"), data_dir=data)
    ids = [start(front, "chain", [f"s{i}"])["id"] for i in range(5)]
    fan = start(front, "fan_out", 20)["id"]
    front.client.post("/api/counter/split/add", content=json.dumps(5))
    time.sleep(1.5)  # nothing runs until an instance that has the functions is up: the work waits in the store
    assert status(front, ids[0])["runtimeStatus"] == "Pending"
    back = start_host("durable", env=only("chain", "fan_out", "hello", "double", "Counter"), data_dir=data)
    assert [finished(front, i)["output"] for i in ids] == [[f"Hello s{i}!"] for i in range(5)]
    assert finished(front, fan)["output"] == sum(range(20)) * 2
    wait_until(lambda: front.client.get("/api/counter/split").text == "5", what="the entity signalled by the front")
    assert "doesn't exist" not in front.output + back.output


def test_durable_cli(start_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable")
    done = run(host, "chain", ["Rome"])["instanceId"]
    forever = start(host, "waits_forever")["id"]
    wait_until(lambda: status(host, forever)["runtimeStatus"] == "Running", what="running")
    where = ["--script-root", str(host.app_dir), "--data-dir", str(host.data_dir)]
    listing = run_overcast("durable", "list", "--json", *where)
    assert listing.returncode == 0, listing.stderr
    assert {json.loads(line)["instanceId"] for line in listing.stdout.splitlines()} >= {done, forever}
    shown = run_overcast("durable", "show", done, *where)
    assert shown.returncode == 0 and "TaskCompleted" in shown.stdout and "hello" in shown.stdout
    assert run_overcast("durable", "terminate", forever, "--reason", "cli", *where).returncode == 0
    assert finished(host, forever)["runtimeStatus"] == "Terminated"
    assert run_overcast("durable", "purge", done, *where).returncode == 0
    assert host.client.get(f"/api/status/{done}").status_code == 404
