"""Sizes: failed invocations release what they held; durable payload limits (issue 8, item 21)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_a_failed_invocation_does_not_keep_its_request_alive(start_host) -> None:
    host = start_host("sizes")
    for _ in range(3):
        assert host.client.post("/api/fail-big", content=b"x" * 1_000_000).status_code == 500
    host.wait_for("failed holding 1000000 bytes")
    # The app turned automatic collection off: with the frames' locals still referenced by the error's traceback,
    # all three payloads would stay alive.
    assert host.client.get("/api/alive").text == "0"
