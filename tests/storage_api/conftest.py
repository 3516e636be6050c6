"""Two servers of the Storage APIs for the same SDK scripts: Overcast (``overcast storage``) and Azurite.

Every test that takes ``target`` runs once against each, so both must observe the same results (statuses, error
codes, headers and bodies the SDKs read). Azurite is installed from npm into ``.cache/azurite`` at the repository
root on first use; without npm the Azurite runs are skipped locally and fail under ``CI``. Both servers listen on
free loopback ports, so these tests never touch 10000-10002.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AZURITE_DIR = ROOT / ".cache" / "azurite"
AZURITE_VERSION = "3.35.0"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """One running server: its name and each service's endpoint URL."""

    name: str
    blob: str
    queue: str
    table: str

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={self.blob};"
                f"QueueEndpoint={self.queue};TableEndpoint={self.table};")


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def azurite_script() -> Path:
    """Azurite's entry point, installed from npm into the cache folder when missing (skips without npm)."""
    script = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable("Azurite needs Node.js and npm (not found); install them to compare with Azurite")
    AZURITE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(AZURITE_DIR),
                    f"azurite@{AZURITE_VERSION}"], check=True, timeout=600)
    return script


@pytest.fixture(scope="session")
def overcast_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    yield from _serve_overcast(tmp_path_factory.mktemp("overcast-storage"))


def _serve_overcast(folder: Path, *extra: str) -> Iterator[Target]:
    """``overcast storage`` on three free ports (``extra``: more arguments), until the session ends."""
    ports = [free_port() for _ in range(3)]
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "overcast", "storage", "--script-root", str(folder), "--data-dir",
             str(folder / "data"), "--blob-port", str(ports[0]), "--queue-port", str(ports[1]), "--table-port",
             str(ports[2]), *extra], stdout=out, stderr=subprocess.STDOUT)
    try:
        for port in ports:  # each service listens on its own socket
            _wait_listening(port, proc, log)
        yield Target("overcast", *(f"http://127.0.0.1:{p}/{ACCOUNT}" for p in ports))
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def overcast_postgres_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """``overcast storage --connection postgresql://...`` on a schema of its own (skipped without a server)."""
    url = os.environ.get("OVERCAST_TEST_POSTGRES", "")
    if not url and os.environ.get("CI"):
        url = "postgresql://postgres@127.0.0.1:5432/test"
    if not url:
        _unavailable("set OVERCAST_TEST_POSTGRES to serve the Storage endpoints from PostgreSQL")
    from tests.contract.pg_schemas import private_schema

    with private_schema(url) as schema_url:
        yield from _serve_overcast(tmp_path_factory.mktemp("overcast-postgres"), "--connection", schema_url)


@pytest.fixture(scope="session")
def azurite_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    script = azurite_script()
    folder = tmp_path_factory.mktemp("azurite")
    ports = [free_port() for _ in range(3)]
    log = folder / "azurite.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["node", str(script), "--blobPort", str(ports[0]), "--queuePort", str(ports[1]), "--tablePort",
             str(ports[2]), "--location", str(folder), "--skipApiVersionCheck", "--silent", "--disableTelemetry"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        for port in ports:  # each service listens on its own socket, Azurite starts them one by one
            _wait_listening(port, proc, log)
        yield Target("azurite", *(f"http://127.0.0.1:{p}/{ACCOUNT}" for p in ports))
    finally:
        _stop(proc)


@pytest.fixture(params=["overcast", "azurite"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each test runs against Overcast and against Azurite."""
    return request.getfixturevalue(f"{request.param}_target")  # type: ignore[no-any-return]


@pytest.fixture
def name() -> str:
    """A fresh container / queue / table name (lower-case letters and digits)."""
    return "t" + uuid.uuid4().hex[:20]
