"""The supervisor with real processes: tests/e2e/supervisor_app.py run as a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

pytestmark = pytest.mark.e2e

APP = Path(__file__).with_name("supervisor_app.py")
DEADLINE = 20.0
PORT_TAKEN = (
    "Port {} is unavailable. Close the process using that port, or specify another port using --port [-p]."
)


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Supervised:
    """One supervisor_app subprocess; its instances report themselves through files in the state dir."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.state = tmp_path / "state"
        self.state.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), "--state-dir", str(self.state), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [self._reader(self.proc.stdout, self.out), self._reader(self.proc.stderr, self.err)]
        self.port = 0

    @staticmethod
    def _reader(stream: IO[str], lines: list[str]) -> threading.Thread:
        def read() -> None:
            with contextlib.suppress(ValueError, OSError):
                for line in stream:
                    lines.append(line.rstrip("\n"))

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    def wait_port(self) -> Supervised:
        def bound() -> bool:
            assert self.proc.poll() is None, f"exited with {self.proc.returncode}: {self.err}"
            found = [line for line in self.out if line.startswith("port ")]
            if found:
                self.port = int(found[0].split()[1])
            return bool(found)

        wait_until(bound, "the port")
        return self

    def ready(self) -> dict[int, dict[str, Any]]:
        """Every instance that became ready and has not been reaped yet, by pid."""
        found = {}
        for path in self.state.glob("ready-*"):
            pid = int(path.name.split("-")[1])
            if alive(pid):
                with contextlib.suppress(ValueError):
                    found[pid] = json.loads(path.read_text())
        return found

    def wait_ready(self, count: int) -> set[int]:
        wait_until(lambda: len(self.ready()) == count, f"{count} ready instances")
        return set(self.ready())

    def get(self, path: str, timeout: float = 30) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
            return str(response.read().decode())

    def wait_line(self, text: str, stream: str = "err") -> str:
        lines = self.err if stream == "err" else self.out
        wait_until(lambda: any(text in line for line in lines), f"{text!r} in std{stream}: {lines}")
        return next(line for line in lines if text in line)

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def close(self) -> None:
        pids = {int(path.name.split("-")[1]) for path in self.state.glob("*-*")}
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(*args: str) -> Supervised:
        started.append(Supervised(tmp_path, *args))
        return started[-1].wait_port()

    yield start
    for supervised in started:
        supervised.close()


class Requests:
    """GET /pid in a loop on a thread, recording every pid seen and every failure."""

    def __init__(self, supervised: Supervised) -> None:
        self.supervised = supervised
        self.pids: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pids.append(int(self.supervised.get("/pid", timeout=10)))
            except Exception as exc:
                self.failures.append(repr(exc))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def test_two_workers_serve_from_two_pids(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "2")
    pids = app.wait_ready(2)
    seen: set[int] = set()

    def both_answered() -> bool:
        seen.add(int(app.get("/pid")))
        return seen == pids

    wait_until(both_answered, "answers from both instances")
    assert sorted(info["slot"] for info in app.ready().values()) == [0, 1]
    assert [info["announce"] for info in app.ready().values()].count(True) == 1
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit() == 0
    assert [line for line in app.out if line.startswith("banner")] == [f"banner pid={min(pids)} generation=0"]
    assert not any(alive(pid) for pid in pids)


def test_a_crashed_instance_is_restarted(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "1")
    (old,) = app.wait_ready(1)
    with pytest.raises(OSError):  # the connection dies with the instance
        app.get("/crash")
    wait_until(lambda: set(app.ready()) - {old}, "a new instance")
    assert int(app.get("/pid")) != old
    assert app.wait_line(f"pid {old})") == f"Instance 0 (pid {old}) exited with code 9; restarting."


def test_start_up_crashes_back_off_then_recover(supervise: Callable[..., Supervised], tmp_path: Path) -> None:
    crash = tmp_path / "crash"
    crash.touch()
    app = supervise("--workers", "1", "--crash-if", str(crash))
    wait_until(lambda: sum("exited with code 9; restarting." in line for line in app.err) >= 3, "three restarts")
    crash.unlink()
    (pid,) = app.wait_ready(1)
    assert int(app.get("/pid")) == pid


def test_sigterm_finishes_the_request_in_flight(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "1")
    (pid,) = app.wait_ready(1)
    answers: list[str] = []
    slow = threading.Thread(target=lambda: answers.append(app.get("/slow?s=1.5")))
    slow.start()
    wait_until((app.state / f"slow-{pid}").exists, "the slow request to start")
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit() == 0
    slow.join(timeout=DEADLINE)
    assert answers == [f"slow {pid}"]


def test_graceful_timeout_then_sigkill(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "1", "--graceful-timeout", "0.5")
    (pid,) = app.wait_ready(1)
    failures: list[Exception] = []

    def slow() -> None:
        try:
            app.get("/slow?s=60")
        except OSError as exc:
            failures.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until((app.state / f"slow-{pid}").exists, "the slow request to start")
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit() == 0
    thread.join(timeout=DEADLINE)
    assert len(failures) == 1
    assert not alive(pid)


def test_second_sigint_kills_at_once(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "1")
    (pid,) = app.wait_ready(1)
    failures: list[Exception] = []

    def slow() -> None:
        try:
            app.get("/slow?s=60")
        except OSError as exc:
            failures.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until((app.state / f"slow-{pid}").exists, "the slow request to start")
    app.proc.send_signal(signal.SIGINT)
    wait_until((app.state / f"term-{pid}").exists, "the instance to get SIGTERM")
    app.proc.send_signal(signal.SIGINT)
    assert app.wait_exit() == 130
    thread.join(timeout=DEADLINE)
    assert len(failures) == 1
    assert not alive(pid)


def test_sighup_replaces_every_instance_without_a_failed_request(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "2")
    old = app.wait_ready(2)
    requests = Requests(app)
    try:
        wait_until(lambda: len(requests.pids) >= 5, "requests before SIGHUP")
        app.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: not any(alive(pid) for pid in old) and len(app.ready()) == 2, "a new generation")
        new = set(app.ready())
        count = len(requests.pids)
        wait_until(lambda: len(requests.pids) >= count + 5, "requests after SIGHUP")
    finally:
        requests.stop()
    assert requests.failures == []
    assert set(requests.pids[count:]) <= new
    assert sorted(info["generation"] for info in app.ready().values()) == [1, 1]
    app.wait_line("Received SIGHUP; replacing the instances.")


def test_sighup_with_broken_code_keeps_the_old_generation(
    supervise: Callable[..., Supervised], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    app = supervise("--workers", "2", "--fail-if", str(broken))
    old = app.wait_ready(2)
    broken.touch()
    app.proc.send_signal(signal.SIGHUP)
    app.wait_line("the previous instances keep serving")
    assert app.wait_line("cannot load the app") == (
        "The new instances cannot load the app (exit code 3); the previous instances keep serving."
    )
    assert int(app.get("/pid")) in old
    assert set(app.ready()) == old


def test_recycle_replaces_one_instance(supervise: Callable[..., Supervised]) -> None:
    app = supervise("--workers", "2")
    app.wait_ready(2)
    before = app.ready()
    recycled = int(app.get("/recycle"))
    wait_until(lambda: not alive(recycled) and len(app.ready()) == 2, "the replacement")
    after = app.ready()
    assert set(before) - set(after) == {recycled}
    (replacement,) = set(after) - set(before)
    slot = before[recycled]["slot"]
    assert after[replacement] == {"slot": slot, "generation": 1, "announce": False}
    assert f"Instance {slot} (pid {recycled}) asked to be recycled; starting a replacement." in app.err


def test_first_generation_start_up_failure_exits_3(supervise: Callable[..., Supervised], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    app = Supervised(tmp_path, "--workers", "2", "--fail-if", str(broken))
    try:
        assert app.wait_exit() == 3
        assert "Cannot load the app: broken exists." in app.err
    finally:
        app.close()


def test_port_taken_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(APP), "--state-dir", str(tmp_path), "--port", str(port)],
            capture_output=True, text=True, timeout=DEADLINE,
        )
    assert done.returncode == 1
    assert done.stderr == PORT_TAKEN.format(port) + "\n"
    assert done.stdout == ""


def test_reload_replaces_the_instances_on_a_py_change(supervise: Callable[..., Supervised], tmp_path: Path) -> None:
    root = tmp_path / "app"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "helpers.py").write_text("")
    app = supervise("--workers", "2", "--reload", "--watch-root", str(root))
    old = app.wait_ready(2)

    (root / ".venv").mkdir()
    (root / ".venv" / "ignored.py").write_text("")
    (root / "notes.txt").write_text("")
    (root / "pkg" / "helpers.py").write_text("# changed\n")
    app.wait_line("Detected change in pkg/helpers.py; reloading.")
    assert not [line for line in app.err if ".venv" in line or "notes.txt" in line]
    wait_until(lambda: not any(alive(pid) for pid in old) and len(app.ready()) == 2, "a new generation")
    assert int(app.get("/pid")) not in old
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit() == 0


def test_reload_waits_for_a_fix_after_a_broken_start(supervise: Callable[..., Supervised], tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    broken = root / "broken.py"
    broken.write_text("raise SyntaxError\n")
    app = supervise("--workers", "2", "--reload", "--watch-root", str(root), "--fail-if", str(broken))
    app.wait_line("Waiting for a file change to reload...")
    broken.unlink()
    pids = app.wait_ready(2)
    assert int(app.get("/pid")) in pids
    app.wait_line("Detected change in broken.py; reloading.")
