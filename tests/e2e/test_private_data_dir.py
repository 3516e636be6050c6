"""The data dir holds the master key (in overcast.db) and blob contents: it is 0700 and every file in it 0600,
whatever the umask, whether the host or the CLI created it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hosting import run_overcast
from tests.e2e.test_queues import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default, which would leave files world-readable
    yield
    os.umask(old)


def modes(data_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(data_dir: Path) -> None:
    found = modes(data_dir)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (data_dir / name).is_dir() else 0o600)}
    assert not wrong, wrong


def test_the_host_creates_a_private_data_dir(start_host, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    host = start_host("storage", env={"OVERCAST_BLOB_SCAN_SECONDS": "0.3"}, data_dir=data_dir)
    assert host.client.put("/api/files/secret", content=b"top secret").status_code == 201
    wait_until(lambda: host.client.get("/api/processed/secret").status_code == 200, what="the output blob")
    found = modes(data_dir)
    assert "overcast.db" in found and "overcast.db-wal" in found
    assert any(name.startswith("blobs/uploads/") for name in found)
    assert_private(data_dir)


def test_the_cli_creates_a_private_data_dir(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    source = tmp_path / "in.txt"
    source.write_text("hello")
    data_dir = tmp_path / "cli-data"
    result = run_overcast("blob", "put", "box/a.txt", str(source), "--script-root", str(app),
                          "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert any(name.startswith("blobs/box/") for name in modes(data_dir))
    assert_private(data_dir)


def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    data_dir = tmp_path / "old"
    data_dir.mkdir()
    (data_dir / "overcast.db").touch(mode=0o644)
    result = run_overcast("keys", "list", "--script-root", str(app), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((data_dir / "overcast.db").stat().st_mode) == 0o600
