"""Idle and slow connections are timed out, and a connection cap refuses the excess (issue 8, item 17).

Small limits through the OVERCAST_HTTP_* settings, a bounded number of idle and slowloris sockets, and bounded
waits: every such socket gets closed, and a normal request still succeeds.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing

import pytest

pytestmark = pytest.mark.e2e
IDLE, SLOW, KEPT = 10, 10, 5  # sockets of each kind
WAIT = 20.0  # seconds any one socket may wait for the server to act (limits are 1 s): a bound, not a measure
CAP = 8
EXTRA = 5


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Closes every socket the test opened, whatever happens."""
    with ExitStack() as opened:
        yield opened


def connect(stack: ExitStack, port: int) -> socket.socket:
    return stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=WAIT))


def http_conn(stack: ExitStack, port: int) -> http.client.HTTPConnection:
    return stack.enter_context(closing(http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)))


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes the connection (a reset counts as closed)."""
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def get(conn: http.client.HTTPConnection, path: str = "/api/hello?name=x") -> int:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status


def test_idle_and_slow_connections_are_cut_off(start_host, stack: ExitStack) -> None:  # type: ignore[no-untyped-def]
    env = {"OVERCAST_HTTP_KEEPALIVE_TIMEOUT": "1", "OVERCAST_HTTP_HEADERS_TIMEOUT": "1"}
    host = start_host("basic", "--no-auth", env=env)
    idle = [connect(stack, host.port) for _ in range(IDLE)]  # never send a byte
    slow = [connect(stack, host.port) for _ in range(SLOW)]  # slowloris: the headers a byte at a time, never finished
    for sock in slow:
        sock.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n")
    kept = [http_conn(stack, host.port) for _ in range(KEPT)]
    assert [get(conn) for conn in kept] == [200] * KEPT  # then idle between requests

    trickling = list(slow)
    deadline = time.monotonic() + WAIT
    while trickling and time.monotonic() < deadline:  # a byte to each every 50 ms, until the server hangs up
        for sock in list(trickling):
            try:
                sock.sendall(b"X")
            except OSError:
                trickling.remove(sock)
        time.sleep(0.05)
    assert not trickling, "a slow client was never cut off"
    cut_off = [read_until_closed(sock) for sock in slow]
    assert all(reply.startswith(b"HTTP/1.1 408 ") or reply == b"" for reply in cut_off), cut_off
    assert any(reply.startswith(b"HTTP/1.1 408 ") for reply in cut_off)
    assert [read_until_closed(sock) for sock in idle] == [b""] * IDLE
    for conn in kept:
        assert conn.sock is not None and read_until_closed(conn.sock) == b""  # the keep-alive timeout closed it
    assert get(http_conn(stack, host.port)) == 200
    host.wait_for("request headers did not arrive within 1 s (OVERCAST_HTTP_HEADERS_TIMEOUT)")


def test_beyond_the_cap_new_connections_are_refused_and_admitted_ones_work(start_host, stack: ExitStack) -> None:  # type: ignore[no-untyped-def]
    host = start_host("basic", "--no-auth", env={"OVERCAST_HTTP_MAX_CONNECTIONS": str(CAP)})
    admitted: list[http.client.HTTPConnection] = []
    for _ in range(10 * CAP):  # bounded: a connection of the readiness probe may still be closing
        if len(admitted) == CAP:
            break
        conn = http_conn(stack, host.port)
        try:
            if get(conn) == 200:
                admitted.append(conn)
                continue
        except (ConnectionError, http.client.HTTPException):
            pass
        conn.close()
    assert len(admitted) == CAP

    outcomes = []
    for _ in range(EXTRA):
        with closing(http.client.HTTPConnection("127.0.0.1", host.port, timeout=WAIT)) as extra:
            try:
                outcomes.append(get(extra))
            except (ConnectionError, http.client.HTTPException):
                outcomes.append("closed")
    assert set(outcomes) <= {503, "closed"} and 503 in outcomes, outcomes
    assert [get(conn) for conn in admitted] == [200] * CAP  # the admitted keep working
    line = host.wait_for("Refused a new HTTP connection")
    assert f"the cap set by OVERCAST_HTTP_MAX_CONNECTIONS ({CAP})" in line

    admitted.pop().close()  # room for one more
    for _ in range(100):
        with closing(http.client.HTTPConnection("127.0.0.1", host.port, timeout=WAIT)) as fresh:
            try:
                if get(fresh) == 200:
                    break
            except (ConnectionError, http.client.HTTPException):
                pass
        time.sleep(0.05)
    else:
        raise AssertionError("no connection admitted after one closed")


def test_a_cap_beyond_the_open_file_limit_stops_the_start(start_host) -> None:  # type: ignore[no-untyped-def]
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard open-file limit here")
    host = start_host("basic", "--no-auth", env={"OVERCAST_HTTP_MAX_CONNECTIONS": str(hard)}, ready=False)
    assert host.proc.wait(timeout=WAIT * 3) == 3
    host.wait_for(f"OVERCAST_HTTP_MAX_CONNECTIONS={hard} needs")
