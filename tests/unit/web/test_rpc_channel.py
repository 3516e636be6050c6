"""The durable client's channel: which paths carry the secret, and which Host names it is published on."""

from __future__ import annotations

import pytest

from overcast.web.rpc_channel import channel_rest, host_name, redact, refusal

PREFIX = "/runtime/webhooks/durabletask/rpc"


@pytest.mark.parametrize(("path", "rest"), [
    (f"{PREFIX}/K/instances/a", "/instances/a"),
    (f"{PREFIX}/K/", "/"),
    (f"{PREFIX}/K", ""),
    (f"{PREFIX.upper()}/K/x", "/x"),
    (f"{PREFIX}/k/x", None),
    (f"{PREFIX}/KK/x", None),
    (f"{PREFIX}//K/x", None),
    (f"{PREFIX}/instances", None),
    (f"{PREFIX}", None),
    ("/runtime/webhooks/durabletask/instances", None),
    (f"{PREFIX}/\udcff/x", None),
])
def test_channel_rest(path: str, rest: str | None) -> None:
    assert channel_rest(path, PREFIX, "K") == rest


@pytest.mark.parametrize(("header", "name"), [
    ("127.0.0.1:7071", "127.0.0.1"),
    ("LocalHost", "localhost"),
    ("[::1]:7071", "::1"),
    ("[::1]", "::1"),
    ("::1", "::1"),
    ("", ""),
])
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(("headers", "published", "reason"), [
    ({"host": "127.0.0.1:7071"}, (), None),
    ({"host": "192.0.2.5:7071"}, ("192.0.2.5",), None),
    ({"host": "192.0.2.5:7071"}, ("0.0.0.0",), "Host header"),
    ({}, (), "Host header"),
    ({"host": "attacker.example.test"}, (), "Host header"),
    ({"host": "localhost", "origin": "null"}, (), "web browser"),
    ({"host": "localhost", "sec-fetch-mode": "cors"}, (), "web browser"),
    ({"host": "localhost", "x-forwarded-for": "203.0.113.1"}, (), "proxy"),
])
def test_refusal(headers: dict[str, str], published: tuple[str, ...], reason: str | None) -> None:
    why = refusal(headers, published)
    assert why is None if reason is None else reason in (why or "")


def test_redact_hides_the_secret_in_log_lines() -> None:
    assert redact(f"{PREFIX}/K123/instances", "K123") == f"{PREFIX}/<secret>/instances"
    assert redact("/api/x", None) == "/api/x"
