"""The supervisor with the real host: 2 workers, SIGHUP without a failed request, reload, stuck sync functions."""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time

import httpx
import pytest

from tests.e2e.hosting import APPS

pytestmark = pytest.mark.e2e


def pids(host, count: int = 40) -> set[str]:
    seen = set()
    for _ in range(count):
        with httpx.Client(base_url=host.base, timeout=10) as client:  # new connection each time
            seen.add(client.get("/api/pid").text)
    return seen


def test_two_workers_share_the_socket(start_host) -> None:
    host = start_host("basic", "--no-auth", "--workers", "2")
    deadline = time.monotonic() + 30
    seen: set[str] = set()
    while len(seen) < 2 and time.monotonic() < deadline:
        seen |= pids(host, 10)
    assert len(seen) == 2
    assert host.output.count("Functions:") == 1  # one banner


def test_sighup_replaces_instances_without_failing_a_request(start_host) -> None:
    host = start_host("basic", "--no-auth")
    before = pids(host, 3)
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=host.base, timeout=30) as client:
            while not stop.is_set():
                # An old instance closing an idle kept-alive connection can cross a request already on the wire;
                # HTTP clients retry an idempotent request once on a new connection then (RFC 9112 §9.3.1).
                for attempt in (1, 2):
                    try:
                        response = client.get("/api/ahello")
                    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                        if attempt == 2:
                            failures.append(repr(exc))
                        continue
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                    else:
                        if response.status_code != 200:
                            failures.append(str(response.status_code))
                    break

    thread = threading.Thread(target=load)
    thread.start()
    try:
        host.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pids(host, 3) & before:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert not (pids(host, 3) & before)
    assert failures == []


def test_sigterm_drains_in_flight_requests_and_exits_zero(start_host) -> None:
    host = start_host("basic", "--no-auth")
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(
        httpx.get(f"{host.base}/api/slowsync", params={"s": "1"}, timeout=30).status_code))
    thread.start()
    host.wait_for("Executing 'Functions.slowsync'")
    assert host.stop(signal.SIGTERM) == 0
    thread.join()
    assert results == [200]


def test_crashed_instance_is_restarted(start_host) -> None:
    import os

    host = start_host("basic", "--no-auth")
    (pid,) = pids(host, 1)
    os.kill(int(pid), signal.SIGKILL)
    host.wait_for("restarting")
    host.wait_ready()
    assert pids(host, 1) != {pid}


def test_stuck_sync_function_times_out_and_instance_is_recycled(start_host) -> None:
    host = start_host("basic", "--no-auth")
    (pid,) = pids(host, 1)
    assert host.client.get("/api/slowsync", params={"s": "30"}).status_code == 500
    host.wait_for("Timeout value of 00:00:02 exceeded by function 'Functions.slowsync'")
    host.wait_for("A function timeout has occurred. Restarting worker process")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pids(host, 1) == {pid}:
        time.sleep(0.1)
    assert pids(host, 1) != {pid}


def test_reload_on_code_change(start_host, tmp_path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "basic", app)
    host = start_host("basic", "--no-auth", "--reload", app_dir=app)
    assert host.client.get("/api/hello").text == "Hello, world!"
    source = (app / "function_app.py").read_text().replace("Hello, {name", "Howdy, {name")
    (app / "function_app.py").write_text(source)
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            text = host.client.get("/api/hello").text
        if text.startswith("Howdy"):
            break
        time.sleep(0.1)
    assert text == "Howdy, world!"


def _poll_status(host, path: str, status: int) -> int:
    deadline = time.monotonic() + 30
    got = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            got = host.client.get(path).status_code
        if got == status:
            break
        time.sleep(0.1)
    return got


def test_reload_on_a_function_json_change(start_host, tmp_path) -> None:
    """As the host's file monitor restarts on function.json changes, --reload swaps in the new bindings."""
    app = tmp_path / "app"
    shutil.copytree(APPS / "v1app", app)
    host = start_host("v1app", "--reload", app_dir=app)
    assert host.client.get("/api/HttpV1").status_code == 200
    config = app / "HttpV1" / "function.json"
    changed = config.read_text().replace('"authLevel": "anonymous"', '"authLevel": "function"')
    changed = changed.replace('"methods": ["get"]', '"methods": ["get"], "route": "renamed"')
    config.write_text(changed)
    host.wait_for("Detected change in HttpV1/function.json; reloading.")
    # The new route and auth level take effect: the old route is gone, the new one wants a key.
    assert _poll_status(host, "/api/renamed", 401) == 401
    assert host.client.get("/api/HttpV1").status_code == 404
    key = host.keys()["functions"]["httpv1"]["default"]
    assert host.client.get("/api/renamed", params={"code": key}).text == "v1 says hi to v1"


def test_reload_on_a_host_json_change(start_host, tmp_path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "v1app", app)
    host = start_host("v1app", "--no-auth", "--reload", app_dir=app)
    assert host.client.get("/api/HttpV1").status_code == 200
    (app / "host.json").write_text('{"version": "2.0", "extensions": {"http": {"routePrefix": "v1"}}}')
    host.wait_for("Detected change in host.json; reloading.")
    assert _poll_status(host, "/v1/HttpV1", 200) == 200
