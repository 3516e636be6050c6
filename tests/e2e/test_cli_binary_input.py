"""CLI commands reading standard input, arguments or files never end in a traceback on bytes that are not UTF-8:
with the default base64 queue encoding any bytes are a valid message (as through the Storage SDK), with
messageEncoding "none" a message must be text; blob names must be UTF-8."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from overcast.backends import open_queue_store
from overcast.bindings.queue import decode_body

pytestmark = pytest.mark.e2e
BINARY = b"\xff\xfe\x00\x80binary"
ARGUMENT = b"\xff\xfe\x80argument"  # an argument cannot hold NUL


def overcast(app: Path, *args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable.encode(), b"-m", b"overcast", *(os.fsencode(a) for a in args),
            b"--script-root", os.fsencode(app), b"--data-dir", os.fsencode(app / "data")]
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=60)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    return tmp_path


@pytest.mark.parametrize(("message", "stdin", "sent"), [("-", BINARY, BINARY), (os.fsdecode(ARGUMENT), b"", ARGUMENT)])
def test_bytes_are_sent_as_bytes_with_base64_encoding(app: Path, message: str, stdin: bytes, sent: bytes) -> None:
    result = overcast(app, "queue", "send", "work", message, stdin=stdin)
    assert result.returncode == 0, result.stderr
    [stored] = open_queue_store(app / "data").peek("work", 5)
    assert decode_body(stored.body, "base64") == sent


@pytest.mark.parametrize(("message", "stdin", "says"), [
    ("-", BINARY, b"Standard input is not UTF-8 text (byte 0xff at offset 0)"),
    (os.fsdecode(ARGUMENT), b"", b"The message is not UTF-8 text (byte 0xff at offset 0)"),
])
def test_bytes_are_refused_when_messages_are_text(app: Path, message: str, stdin: bytes, says: bytes) -> None:
    (app / "host.json").write_text('{"version": "2.0", "extensions": {"queues": {"messageEncoding": "none"}}}')
    result = overcast(app, "queue", "send", "work", message, stdin=stdin)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert result.stderr.startswith(b"Error: " + says)
    assert b'messageEncoding "base64"' in result.stderr


def test_non_utf8_blob_names_are_refused(app: Path) -> None:
    folder = app / "upload"
    folder.mkdir()
    (folder / os.fsdecode(b"name\xff.txt")).write_bytes(BINARY)
    for args in (("blob", "put", os.fsdecode(b"box/a\xff"), str(app / "host.json")), ("blob", "put", "box", folder)):
        result = overcast(app, *(str(a) for a in args))
        assert result.returncode == 1
        assert b"Traceback" not in result.stderr
        assert b"not UTF-8" in result.stderr


def test_binary_stdin_is_a_blob_as_is(app: Path) -> None:
    assert overcast(app, "blob", "put", "box/b.bin", "-", stdin=BINARY).returncode == 0
    result = overcast(app, "blob", "get", "box/b.bin")
    assert result.returncode == 0 and result.stdout == BINARY
