"""An instance's life seen from outside: the warmup function before it serves, and what a stop waits for."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

WARM = "Function App instance is warm: pid"


def _settled(host, function: str) -> None:
    """Call a function and wait for its Executed line: every line written before it has been read by then."""
    before = host.output.count(f"Executed 'Functions.{function}'")
    assert host.client.get(f"/api/{function}").status_code == 200
    deadline = time.monotonic() + 20
    while host.output.count(f"Executed 'Functions.{function}'") <= before and time.monotonic() < deadline:
        time.sleep(0.05)


def test_warmup_runs_once_in_each_instance_before_it_serves(start_host) -> None:
    host = start_host("lifecycle", "--workers", "2")
    # Every instance ran the function, with a func.WarmUpContext, before answering its first request.
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        with httpx.Client(base_url=host.base, timeout=10) as client:  # a new connection: any instance may answer
            pid, warmed = client.get("/api/warmed").text.split(" ")
        assert warmed == "WarmUpContext"
        seen.add(pid)
    assert len(seen) == 2
    for pid in seen:
        host.wait_for(f"{WARM} {pid} got a WarmUpContext")
    # /admin/warmup is anonymous, as on the host; the instance already warmed up, so it answers at once and runs
    # nothing again, as the host does for every call after the first one in a process.
    for method in ("GET", "POST"):
        answered = host.client.request(method, "/admin/warmup")
        assert answered.status_code == 200 and answered.content == b""
    _settled(host, "warmed")
    assert host.output.count("Executing 'Functions.warmup' (Reason='This function was programmatically called") == 2
    assert host.output.count("Executed 'Functions.warmup' (Succeeded") == 2


def _v1_warmup_app(root, name: str = "warmup") -> None:
    (root / name).mkdir(parents=True)
    (root / "host.json").write_text('{"version": "2.0"}')
    (root / name / "function.json").write_text(
        '{"bindings": [{"type": "warmupTrigger", "direction": "in", "name": "warmupContext"}]}'
    )
    (root / name / "__init__.py").write_text(
        "import logging\n\n\ndef main(warmupContext) -> None:\n"
        "    logging.info('v1 warm with %s', type(warmupContext).__name__)\n"
    )
    (root / "hello").mkdir()
    (root / "hello" / "function.json").write_text(
        '{"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"},'
        ' {"type": "http", "direction": "out", "name": "$return"}]}'
    )
    (root / "hello" / "__init__.py").write_text("def main(req) -> str:\n    return 'hi'\n")


def test_a_v1_warmup_function_runs_at_start(start_host, tmp_path) -> None:
    app = tmp_path / "app"
    _v1_warmup_app(app, "Warmup")  # the name matches case-insensitively
    host = start_host("v1", "--no-auth", app_dir=app)
    host.wait_for("v1 warm with WarmUpContext")
    assert host.client.get("/admin/warmup").status_code == 200  # open with --no-auth, and a no-op now
    _settled(host, "hello")
    assert host.output.count("Executing 'Functions.Warmup'") == 1
    assert host.output.count("Executed 'Functions.Warmup' (Succeeded") == 1


def test_a_warmup_trigger_on_another_name_does_not_run(start_host, tmp_path) -> None:
    app = tmp_path / "app"
    _v1_warmup_app(app, "prepare")
    host = start_host("v1", "--no-auth", app_dir=app)
    host.wait_for("Function 'prepare' has a warmupTrigger, but only a function named 'warmup' runs")
    assert host.client.get("/admin/warmup").status_code == 200  # the route exists without a warmup function
    _settled(host, "hello")
    assert "Executing 'Functions.prepare'" not in host.output


def test_ctrl_c_says_what_it_waits_for_and_a_second_one_stops_at_once(start_host) -> None:
    host = start_host("lifecycle")
    instance = int(host.client.get("/api/warmed").text.split(" ")[0])
    answers: list[object] = []

    def slow() -> None:
        try:
            answers.append(httpx.get(f"{host.base}/api/slow", params={"s": "120"}, timeout=60).status_code)
        except httpx.HTTPError as exc:
            answers.append(exc)

    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    host.wait_for("Executing 'Functions.slow'")
    # Ctrl+C in a terminal reaches every process of the group; the instance may see it before the supervisor.
    os.kill(instance, signal.SIGINT)
    host.proc.send_signal(signal.SIGINT)
    line = host.wait_for("in flight to finish")
    assert "Waiting up to 30s for 1 invocation in flight to finish (slow). Press Ctrl+C again to stop at once." in line
    os.kill(instance, signal.SIGINT)
    host.proc.send_signal(signal.SIGINT)
    # Bounded: the function still has about two minutes to run and the graceful timeout is 30 s.
    try:
        code = host.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a second Ctrl+C did not stop overcast at once:\n{host.output}")
    assert code == 130
    host.wait_for("Stopping at once.")
    thread.join(timeout=15)
    assert answers and not isinstance(answers[0], int)  # the request was cut off, not answered


def test_sigterm_names_the_functions_it_waits_for(start_host) -> None:
    host = start_host("lifecycle", "--workers", "2")
    threads = [
        threading.Thread(target=lambda: httpx.get(f"{host.base}/api/slow", params={"s": "5"}, timeout=30),
                         daemon=True)
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while host.output.count("Executing 'Functions.slow'") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    host.proc.send_signal(signal.SIGTERM)
    line = host.wait_for("in flight to finish")
    assert "Send SIGINT (Ctrl+C) to stop at once." in line and "(slow" in line
    assert host.proc.wait(timeout=30) == 0  # the slow calls finish within the graceful timeout

