"""The supervisor's pure parts; the processes themselves are tested in tests/e2e/test_supervisor.py."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from overcast.supervisor import InstanceHandle
from overcast.supervisor.process import SignalHandler, bind, child_handlers, describe_status, read_lines
from overcast.supervisor.reload import is_watched


@pytest.mark.parametrize(
    ("path", "watched"),
    [
        ("function_app.py", True),
        ("blueprints/users.py", True),
        ("host.json", True),
        ("local.settings.json", True),
        ("sub/host.json", True),
        ("HttpV1/function.json", True),
        ("HttpV1/Function.JSON", True),
        ("function.json", True),
        ("HttpV1/function.json.bak", False),
        (".venv/pkg/function.json", False),
        ("requirements.txt", False),
        ("function_app.pyc", False),
        ("__pycache__/function_app.cpython-311.pyc", False),
        (".venv/lib/site.py", False),
        ("venv/lib/site.py", False),
        (".overcast/state.json", False),
        (".git/hooks/x.py", False),
        ("node_modules/x.py", False),
        (".python_packages/lib/x.py", False),
        (".hypothesis/x.py", False),
        (".pytest_cache/x.py", False),
        ("pkg/__pycache__/x.py", False),
    ],
)
def test_is_watched(path: str, watched: bool) -> None:
    root = Path("/srv/app")
    assert is_watched(root, str(root / path)) is watched


def test_a_path_outside_the_root_is_not_watched() -> None:
    assert not is_watched(Path("/srv/app"), "/srv/other/function_app.py")


def test_describe_status() -> None:
    assert describe_status(9 << 8) == "code 9"
    assert describe_status(signal.SIGKILL) == "SIGKILL"


def test_bind_reports_a_taken_port_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert bind("127.0.0.1", port) is None
    assert capsys.readouterr().err == (
        f"Port {port} is unavailable. Close the process using that port, or specify another port using --port [-p].\n"
    )


@pytest.mark.parametrize(("address", "port"), [("999.1.1.1", 0), ("127.0.0.1", 70000)])
def test_bind_reports_a_bad_address_or_port_in_one_line(
    address: str, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bind(address, port) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert address in err or str(port) in err


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_bind_picks_a_free_port_and_listens(address: str) -> None:
    if address == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sock = bind(address, 0)
    except OSError:  # pragma: no cover - a host without that loopback
        pytest.skip(f"cannot bind {address}")
    assert sock is not None
    with sock:
        assert sock.getsockname()[1] != 0
        assert sock.get_inheritable()
        assert sock.getblocking() is False
        with socket.create_connection((address, sock.getsockname()[1]), timeout=5):
            pass


def test_notify_writes_one_line_and_never_raises() -> None:
    read_fd, write_fd = os.pipe()
    with socket.socket() as sock:
        handle = InstanceHandle(sock, 0, 0, True, _notify_fd=write_fd)
        handle.notify("ready")
        handle.notify("re\ncycle")
        assert os.read(read_fd, 100) == b"ready\nre cycle\n"
        os.close(read_fd)
        handle.notify("ready")  # broken pipe: swallowed
        os.close(write_fd)
        InstanceHandle(sock, 0, 0, False).notify("ready")  # no supervisor: a no-op


def test_read_lines_keeps_a_partial_line() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.write(write_fd, b"ready\nrecy")
    assert read_lines(read_fd, b"") == (["ready"], b"recy", False)
    os.write(write_fd, b"cle\n")
    os.close(write_fd)
    assert read_lines(read_fd, b"recy") == (["recycle"], b"", True)
    os.close(read_fd)


def test_children_get_default_handlers_but_keep_ignored_signals_ignored() -> None:
    before: dict[signal.Signals, SignalHandler | None] = {
        signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: lambda s, f: None, signal.SIGHUP: None,
    }
    handlers = child_handlers(before)
    assert handlers == {
        signal.SIGINT: signal.SIG_IGN,
        signal.SIGTERM: signal.SIG_DFL,
        signal.SIGHUP: signal.SIG_DFL,
        signal.SIGCHLD: signal.SIG_DFL,
    }
    assert child_handlers({})[signal.SIGINT] is signal.default_int_handler
