"""Sizes: failed invocations release what they held; durable payload limits (issue 8, item 21)."""

from __future__ import annotations

import time

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


# -- durable payloads: OVERCAST_DURABLE_MAX_PAYLOAD_BYTES (2,000 here) -----------------------------------------------

LIMIT = {"OVERCAST_DURABLE_MAX_PAYLOAD_BYTES": "2000"}


def outcome(host, instance_id: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        found = host.client.get(f"/api/status/{instance_id}").json()
        if found["runtimeStatus"] not in ("Pending", "Running"):
            return dict(found)
        time.sleep(0.1)
    raise AssertionError(f"instance {instance_id} did not finish")


def test_an_orchestration_input_over_the_limit_is_refused_with_400(start_host) -> None:
    host = start_host("sizes", env=LIMIT)
    refused = host.client.post("/api/start/relay", json="i" * 2500)  # the SDK sends it as JSON text in JSON
    assert refused.status_code == 400
    assert "The orchestration input is 2,506 bytes of JSON, over the limit of 2,000 bytes" in refused.text
    assert "OVERCAST_DURABLE_MAX_PAYLOAD_BYTES" in refused.text


def test_an_activity_result_over_the_limit_fails_the_task(start_host) -> None:
    host = start_host("sizes", env=LIMIT)
    small = host.client.post("/api/start/relay", json=100)
    assert small.status_code == 202
    assert outcome(host, small.json()["id"]) == {"runtimeStatus": "Completed", "output": "g" * 100}
    big = host.client.post("/api/start/relay", json=3000)
    result = outcome(host, big.json()["id"])
    assert result["runtimeStatus"] == "Failed"
    expected = "The result of activity 'grow' is 3,002 bytes of JSON, over the limit of 2,000 bytes"
    assert expected in str(result["output"])
