"""``overcast blob put|get`` stream files of several MiB to and from the store (files, standard input and output),
and a ``get -o`` that fails leaves no half-written file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.hosting import run_overcast

SIZE = 5 * 1024 * 1024 + 321  # several 1 MiB chunks


def overcast_bytes(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``overcast`` with binary standard input and output."""
    return subprocess.run([sys.executable, "-m", "overcast", *args], capture_output=True, timeout=120, input=stdin,
                          env={**os.environ, "OVERCAST_STORAGE_ENDPOINTS": "off"})


def test_large_files_stream_through_put_and_get(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    content = os.urandom(SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    put = run_overcast("blob", "put", "files/big.bin", str(source), *data)
    assert put.returncode == 0, put.stderr
    assert f"{SIZE} bytes" in put.stdout
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    got = run_overcast("blob", "get", "files/big.bin", "-o", str(target), *data)
    assert got.returncode == 0, got.stderr
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.bin"]  # no .part left behind

    piped = overcast_bytes("blob", "put", "files/piped.bin", "-", *data, stdin=content[::-1])
    assert piped.returncode == 0, piped.stderr
    out = overcast_bytes("blob", "get", "files/piped.bin", *data)
    assert out.returncode == 0 and out.stdout == content[::-1]


def test_a_get_into_a_missing_folder_fails_clearly(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    source = tmp_path / "small.txt"
    source.write_text("hello")
    assert run_overcast("blob", "put", "files/small.txt", str(source), *data).returncode == 0
    failed = run_overcast("blob", "get", "files/small.txt", "-o", str(tmp_path / "nowhere" / "x.txt"), *data)
    assert failed.returncode == 1 and "Cannot write" in failed.stderr
    assert not (tmp_path / "nowhere").exists()
