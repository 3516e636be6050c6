"""Runs ``overcast start`` as a real subprocess on a free loopback port against the sample apps in apps/."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

APPS = Path(__file__).parent / "apps"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningHost:
    def __init__(self, app_dir: Path, data_dir: Path, args: list[str], env: dict[str, str] | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.app_dir = app_dir
        # Many hosts run at once in the e2e suite: the Storage endpoints (ports 10000-10002) only where a test asks.
        full_env = {**os.environ, "OVERCAST_STORAGE_ENDPOINTS": "off", **(env or {})}
        full_env.pop("CI", None)  # CI=true would make Core-Tools-style logging verbose; tests pass --verbose instead
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "overcast", "start", "--script-root", str(app_dir), "--port", str(self.port),
             "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.client = httpx.Client(base_url=self.base, timeout=30)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"overcast exited with {self.proc.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.base}/admin/host/ping", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"overcast did not become ready:\n{self.output}")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in output:\n{self.output}")

    def keys(self) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-m", "overcast", "keys", "list", "--json", "--script-root", str(self.app_dir),
             "--data-dir", str(self.data_dir)], capture_output=True, text=True, check=True,
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.client.close()
        return code


@pytest.fixture
def start_host(tmp_path: Path) -> Iterator[object]:
    started: list[RunningHost] = []

    def start(app: str, *args: str, env: dict[str, str] | None = None, ready: bool = True,
              app_dir: Path | None = None, data_dir: Path | None = None) -> RunningHost:
        host = RunningHost(app_dir or APPS / app, data_dir or tmp_path / f"data{len(started)}", list(args), env)
        started.append(host)
        if ready:
            host.wait_ready()
        return host

    yield start
    for host in started:
        host.stop()


def run_overcast(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``overcast`` to completion (for apps that must fail to start); ``input`` goes to its stdin."""
    return subprocess.run(
        [sys.executable, "-m", "overcast", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "OVERCAST_STORAGE_ENDPOINTS": "off", **(env or {})}, input=input,
    )
