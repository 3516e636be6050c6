"""Shared helpers for the benchmarks: free ports, starting servers, waiting for a first 200."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "bench" / "apps"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def wait_200(port: int, path: str, deadline_s: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until ``GET path`` answers 200 (polling every 2 ms)."""
    start = time.perf_counter()
    while time.perf_counter() - start < deadline_s:
        if get_status(port, path, timeout=0.5) == 200:
            return time.perf_counter() - start
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        time.sleep(0.002)
    raise RuntimeError(f"no 200 from :{port}{path} within {deadline_s}s")


def uvicorn_cmd(app: str, port: int) -> list[str]:
    """The baseline server: the same uvicorn settings Overcast's instances use."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--http", "httptools", "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning", "--no-proxy-headers", "--no-server-header", "--lifespan",
            "off"]


def overcast_cmd(app_dir: Path, port: int, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "overcast", "start", "--script-root", str(app_dir), "--port", str(port),
            "--no-auth", "--data-dir", str(data_dir)]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment both sides run in. Bytecode caching is on (an installed package has its .pyc files; an
    editable checkout under PYTHONDONTWRITEBYTECODE=1 would recompile Overcast on every start, not uvicorn)."""
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start(
    cmd: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=bench_env(env))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    return " ".join(["python", *(os.path.relpath(a, ROOT) if a.endswith(".py") else a for a in sys.argv)])


def wait_for_file(path: Path, deadline_s: float, proc: subprocess.Popen[bytes] | None = None,
                  interval: float = 0.05) -> None:
    """Wait until ``path`` exists (a server writes it when done); a slow poll, so it costs the server no CPU."""
    start = time.perf_counter()
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before writing {path}")
        if time.perf_counter() - start > deadline_s:
            raise RuntimeError(f"{path} did not appear within {deadline_s}s")
        time.sleep(interval)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]
