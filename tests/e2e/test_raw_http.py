"""Hostile and malformed HTTP/1.1 over a plain socket against `overcast start --no-auth` with the basic app.

Every case gets a 4xx or a closed connection (never a 500, never a hang), and the server keeps serving afterwards.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

import httpx
import pytest

pytestmark = pytest.mark.e2e

TIMEOUT = 5.0  # seconds a socket waits for the server before the case counts as a hang


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def exchange(port: int, data: bytes, *, shut_write: bool = False) -> bytes:
    """Send ``data`` and read until the server closes the connection (every case asks it to, or is fatal)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse the rest of a bad request early
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"the server hung; received so far: {received[:300]!r}") from None
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


def parse(data: bytes) -> list[RawResponse]:
    """The complete responses in ``data`` (Content-Length framing, as every response here uses)."""
    responses: list[RawResponse] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {data[:300]!r}"
        lines = head.decode("latin-1").split("\r\n")
        version, status, *_ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert "content-length" in headers, f"no Content-Length in {lines!r}"
        length = int(headers["content-length"])
        assert len(rest) >= length, f"truncated body: {rest!r}"
        responses.append(RawResponse(int(status), headers, rest[:length]))
        data = rest[length:]
    return responses


def still_serving(host: object) -> None:
    response = host.client.get("/api/hello", timeout=TIMEOUT)  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.text == "Hello, world!"


def request(line: bytes, *headers: bytes, body: bytes = b"", close: bool = True) -> bytes:
    extra = [b"Host: localhost", *headers, *([b"Connection: close"] if close else [])]
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


@pytest.mark.parametrize(
    ("data", "statuses"),
    [
        pytest.param(request(b"GET /api/%ff%fe HTTP/1.1"), {404}, id="invalid-utf8-escaped-path"),
        pytest.param(request(b"GET /api/%zz HTTP/1.1"), {404}, id="invalid-escape"),
        pytest.param(request(b"GET /api/\xff\xfe HTTP/1.1"), {400}, id="raw-non-ascii-path"),
        pytest.param(request(b"GET //api//hello HTTP/1.1"), {404}, id="double-slashes"),
        pytest.param(request(b"GET /api/items/99999999999999999999999 HTTP/1.1"), {404}, id="int-overflow"),
        pytest.param(request(b"GET /api/" + b"a" * 8000 + b" HTTP/1.1"), {404, 414}, id="long-path"),
        pytest.param(b"GARBAGE\r\n\r\n", {400}, id="garbage-line"),
        pytest.param(b"GET\r\n\r\n", {400}, id="method-only"),
        pytest.param(b"GET /api/hello HTTP/9.9 extra\r\n\r\n", {400}, id="bad-version"),
        pytest.param(b"\x00\x01\x02\x03\r\n\r\n", {400}, id="binary"),
        pytest.param(b"GET /api/hello HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", {400}, id="bad-header-line"),
        pytest.param(b"GET /api/hello HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", {400}, id="space-in-header-name"),
        pytest.param(b"G\xc3\x89T /api/hello HTTP/1.1\r\nHost: x\r\n\r\n", {400}, id="non-token-method"),
        pytest.param(request(b"POST /api/echo HTTP/1.1", b"Content-Length: abc"), {400}, id="junk-content-length"),
        pytest.param(request(b"POST /api/echo HTTP/1.1", b"Content-Length: -1"), {400}, id="negative-content-length"),
        pytest.param(request(b"POST /api/echo HTTP/1.1", b"Content-Length: 3", b"Content-Length: 4", body=b"abcd"),
                     {400}, id="conflicting-content-lengths"),
        pytest.param(request(b"POST /api/echo HTTP/1.1", b"Transfer-Encoding: chunked", body=b"zz\r\nabc\r\n0\r\n\r\n"),
                     {400}, id="bad-chunk-size"),
        pytest.param(request(b"POST /api/echo HTTP/1.1", b"Transfer-Encoding: chunked", b"Content-Length: 3",
                             body=b"3\r\nabc\r\n0\r\n\r\n"), {200, 400}, id="chunked-and-content-length"),
        pytest.param(request(b"FOO /api/hello HTTP/1.1"), {400, 404}, id="unknown-method"),  # llhttp: 400
        pytest.param(request(b"GET /api/hello HTTP/1.1", b"X-Bin: \xff\xfe\x80"), {200}, id="latin1-header-value"),
    ],
)
def test_malformed_requests_get_a_4xx_or_a_close(start_host, data: bytes, statuses: set[int]) -> None:
    host = start_host("basic", "--no-auth")
    responses = parse(exchange(host.port, data))
    assert all(r.status != 500 for r in responses), responses
    assert len(responses) <= 1
    if responses:
        assert responses[0].status in statuses, responses[0]
    still_serving(host)


def test_huge_header_value_is_never_a_500(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = request(b"GET /api/hello HTTP/1.1", b"X-Big: " + b"v" * 65536)
    responses = parse(exchange(host.port, data))
    assert all(r.status in (200, 400, 413, 431) for r in responses), responses
    still_serving(host)


def test_huge_header_value_is_rejected_like_kestrel(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = request(b"GET /api/hello HTTP/1.1", b"X-Big: " + b"v" * 65536)
    responses = parse(exchange(host.port, data))
    assert all(400 <= r.status < 500 for r in responses), responses
    still_serving(host)


def test_many_headers_are_never_a_500(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = request(b"GET /api/echo HTTP/1.1", *(b"X-H: " + str(i).encode() for i in range(2000)))
    responses = parse(exchange(host.port, data))
    assert all(r.status in (200, 400, 431) for r in responses), responses
    still_serving(host)


def test_truncated_body_then_half_close(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = request(b"POST /api/echo HTTP/1.1", b"Content-Length: 100", body=b"abc", close=False)
    responses = parse(exchange(host.port, data, shut_write=True))
    assert all(400 <= r.status < 500 for r in responses), responses
    still_serving(host)


def test_truncated_body_then_abrupt_close(start_host) -> None:
    host = start_host("basic", "--no-auth")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", host.port), timeout=TIMEOUT) as sock:
            sock.sendall(request(b"POST /api/echo HTTP/1.1", b"Content-Length: 1000000", body=b"x" * 1000,
                                 close=False))
    still_serving(host)
    assert "Unhandled error" not in host.output


def test_truncated_request_head_then_close(start_host) -> None:
    host = start_host("basic", "--no-auth")
    responses = parse(exchange(host.port, b"GET /api/hello HTTP/1.1\r\nHost: local", shut_write=True))
    assert all(400 <= r.status < 500 for r in responses), responses
    still_serving(host)


def test_pipelined_requests_are_answered_in_order(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = (
        request(b"GET /api/hello HTTP/1.1", close=False)
        + request(b"POST /api/echo HTTP/1.1", b"Content-Length: 3", body=b"abc", close=False)
        + request(b"GET /api/%ff%fe HTTP/1.1", close=False)
        + request(b"GET /api/hello?name=B HTTP/1.1")
    )
    responses = parse(exchange(host.port, data))
    assert [r.status for r in responses] == [200, 200, 404, 200]
    assert responses[0].body == b"Hello, world!"
    echoed = json.loads(responses[1].body)
    assert (echoed["method"], echoed["body"]) == ("POST", "abc")
    assert responses[3].body == b"Hello, B!"
    still_serving(host)


def test_pipelined_request_then_garbage(start_host) -> None:
    host = start_host("basic", "--no-auth")
    data = request(b"GET /api/hello HTTP/1.1", close=False) + b"BAD LINE\r\n\r\n"
    responses = parse(exchange(host.port, data))
    statuses = [r.status for r in responses]
    # uvicorn may drop the first answer when the parser fails on the second request in the same read.
    assert statuses in ([200, 400], [400]), statuses
    still_serving(host)


def test_body_over_the_limit_is_413(start_host) -> None:
    host = start_host("basic", "--no-auth", env={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"})
    declared = request(b"POST /api/echo HTTP/1.1", b"Content-Length: 5000", body=b"x" * 5000)
    responses = parse(exchange(host.port, declared))
    assert [r.status for r in responses] == [413]
    chunked = request(b"POST /api/echo HTTP/1.1", b"Transfer-Encoding: chunked",
                      body=b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n")
    responses = parse(exchange(host.port, chunked))
    # [QUIRK] the host reads no body without Content-Length, so the function runs with an empty one.
    assert [r.status for r in responses] == [200]
    assert json.loads(responses[0].body)["body_len"] == 0
    still_serving(host)


# --------------------------------------------------------------------------------------------------------------------
# What a function returns must reach the client as a well-formed HTTP response (a 500 when it cannot be sent).
# The basic app's `strplain` returns its `v` query parameter, which the host reads as a JSON response description.


@pytest.mark.parametrize(
    "description",
    [
        pytest.param({"body": "x", "status": 100}, id="status-100"),
        pytest.param({"body": "x", "status": 101}, id="status-101"),
        pytest.param({"body": "x", "status": 199}, id="status-199"),
        pytest.param({"body": "x", "status": 600}, id="status-600"),
        pytest.param({"body": "x", "status": 999}, id="status-999"),
        pytest.param({"body": "x", "headers": {"X-A": "a\r\nInjected: yes"}}, id="crlf-in-header-value"),
        pytest.param({"body": "x", "headers": {"X A": "v"}}, id="space-in-header-name"),
    ],
)
def test_unsendable_function_responses_still_get_a_response(start_host, description: dict[str, object]) -> None:
    host = start_host("basic", "--no-auth")
    try:
        response = host.client.get("/api/strplain", params={"v": json.dumps(description)}, timeout=TIMEOUT)
    finally:
        still_serving(host)
    assert 200 <= response.status_code <= 599
    assert "injected" not in response.headers


@pytest.mark.parametrize(
    ("description", "status"),
    [
        ({"body": "x", "status": 599}, 599),
        ({"body": "x", "status": 42}, 200),  # out of the host's 100-999 range: ignored
        ({"body": "x", "headers": {"X-Snow": "☃"}}, 200),  # not latin-1: replaced, not fatal
        ({"body": "x", "headers": {"X-☃": "v"}}, 500),
    ],
)
def test_odd_function_responses(start_host, description: dict[str, object], status: int) -> None:
    host = start_host("basic", "--no-auth")
    response = host.client.get("/api/strplain", params={"v": json.dumps(description)}, timeout=TIMEOUT)
    assert response.status_code == status
    still_serving(host)


def test_httpx_sanity(start_host) -> None:
    """The helpers agree with a real client about a plain request."""
    host = start_host("basic", "--no-auth")
    responses = parse(exchange(host.port, request(b"GET /api/hello?name=Raw HTTP/1.1")))
    via_client = httpx.get(f"{host.base}/api/hello", params={"name": "Raw"}, timeout=TIMEOUT)
    assert [(r.status, r.body) for r in responses] == [(via_client.status_code, via_client.content)]
    assert responses[0].headers["x-custom"] == "overcast"
