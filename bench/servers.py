"""The Storage API servers the storage benchmarks compare: ``overcast storage`` and Azurite.

Each runs as a subprocess on free loopback ports (Blob, Queue and Table each get one; the benchmark names the one it
talks to), is waited for until that port accepts connections, and is stopped when its ``with`` block ends. Azurite
is the npm package the Storage API tests install into ``.cache/azurite`` (tests/storage_api/conftest.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, free_port, start, stop

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE = ROOT / ".cache" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
SERVICES = ("blob", "queue", "table")


@dataclass(frozen=True)
class Server:
    """A running server: its process id (for /proc readings) and the port of the service the benchmark uses."""

    pid: int
    port: int


def connection(port: int, service: str) -> str:
    """The development-account connection string naming one service (``"blob"``, ``"queue"``) on ``port``."""
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"{service.capitalize()}Endpoint=http://127.0.0.1:{port}/{ACCOUNT};")


def require_azurite() -> None:
    """Exit with how to install Azurite when it is missing (for benchmarks that have nothing to compare without it)."""
    if not AZURITE.exists():
        sys.exit(f"Azurite is not installed at {AZURITE}: run the Storage API tests once (pytest tests/storage_api) "
                 f"or: npm install --prefix .cache/azurite azurite")


def wait_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    start_at = time.perf_counter()
    while time.perf_counter() - start_at < deadline_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {deadline_s} s")


@contextmanager
def serving(cmd: list[str], log: Path, port: int) -> Iterator[Server]:
    proc = start(cmd, log)
    try:
        wait_port(port, proc)
        yield Server(proc.pid, port)
    finally:
        stop(proc)


def overcast_storage(folder: Path, service: str, *extra: str) -> AbstractContextManager[Server]:
    """``overcast storage`` with ``folder`` as its script root (store in ``folder/data``, log ``server.log``)."""
    ports = {name: free_port() for name in SERVICES}
    cmd = [sys.executable, "-m", "overcast", "storage", "--script-root", str(folder), "--data-dir",
           str(folder / "data")]
    for name, port in ports.items():
        cmd += [f"--{name}-port", str(port)]
    return serving([*cmd, *extra], folder / "server.log", ports[service])


def azurite(folder: Path, service: str) -> AbstractContextManager[Server]:
    """Azurite keeping its files in ``folder`` (created if missing; log ``azurite.log``)."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in SERVICES}
    cmd = ["node", str(AZURITE)]
    for name, port in ports.items():
        cmd += [f"--{name}Port", str(port)]
    cmd += ["--location", str(folder), "--skipApiVersionCheck", "--silent", "--disableTelemetry"]
    return serving(cmd, folder / "azurite.log", ports[service])
