"""Helpers of the PostgreSQL scale-out tests: the server (skipped locally without one, required under CI), a schema
of its own per test, and reading what the sample app wrote."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

CI_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def server() -> str:
    url = os.environ.get("OVERCAST_TEST_POSTGRES", "") or (CI_POSTGRES if os.environ.get("CI") else "")
    if not url:
        pytest.skip("set OVERCAST_TEST_POSTGRES to a PostgreSQL server to run the scale-out tests")
    return url


@contextmanager
def private_database(base: str) -> Iterator[str]:
    """``base`` with a fresh schema as its search_path (created by the first instance, dropped afterwards)."""
    import psycopg

    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, args)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description is not None else []


def enqueue(url: str, queue: str, texts: list[str]) -> None:
    """Messages as a queue output binding writes them (base64), straight through the store."""
    from overcast.backends.registry import BackendTarget, open_backend

    store = open_backend("postgresql", BackendTarget(Path("."), url)).open_queues()
    try:
        for text in texts:
            store.enqueue(queue, base64.b64encode(text.encode()))
    finally:
        store.close()


def queued_json(url: str, queue: str) -> list[dict[str, Any]]:
    rows = query(url, "SELECT body FROM queue_messages WHERE queue = %s", queue)
    return [json.loads(base64.b64decode(bytes(row[0]))) for row in rows]


def keys_of(app_dir: Path, data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "overcast", "keys", "list", "--json", "--script-root", str(app_dir),
         "--data-dir", str(data_dir)], capture_output=True, text=True, check=True, env={**os.environ, **env},
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


class ThrowawayCluster:
    """A PostgreSQL cluster of its own (``initdb`` + ``pg_ctl`` in a temp folder, a free port), for tests that stop
    and restart the server or need password authentication. Trust auth unless ``password`` is given, then TCP
    clients must present it (scram-sha-256). As root (containers), the server runs as the ``postgres`` user."""

    def __init__(self, port: int, password: str | None = None) -> None:
        import shutil
        import tempfile

        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.skip("initdb/pg_ctl are not installed")
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="overcast-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres")
        self.password = password
        auth = ["-A", "trust"]
        if password is not None:
            secret = self.root / "pwfile"
            secret.write_text(password + "\n")
            if self._as:
                shutil.chown(secret, "postgres")
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={secret}"]
        self._run("initdb", "-D", str(self.data), *auth, "-U", "postgres", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        user = "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        import shutil

        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
