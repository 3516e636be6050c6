"""Fault item: bodies the durable HTTP API cannot read (JSON nested deeper than Python's reader goes) are a 400
naming the problem, never a 500."""

from __future__ import annotations

import pytest

from .test_http_api import JSON_HEADERS, Api, assert_error

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
TOO_DEEP = "nested too deeply to read"


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_start_with_deeply_nested_json_is_400(api: Api, body: str) -> None:
    response = api.call("POST", "orchestrators/hello/deep", {}, JSON_HEADERS, body)
    assert_error(response, 400, "Invalid JSON content", f"The request body is JSON {TOO_DEEP}")
    assert api.store.get_instance("TestHubName", "deep") is None and api.wakes == 0  # nothing was started


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_raise_event_with_deeply_nested_json_is_400(api: Api, body: str) -> None:
    instance_id = api.started("Running")
    response = api.call("POST", f"instances/{instance_id}/raiseEvent/approval", {}, JSON_HEADERS, body)
    assert_error(response, 400, "Invalid JSON content", f"The event data is JSON {TOO_DEEP}")


def test_an_entity_signal_with_deeply_nested_json_is_400(api: Api) -> None:
    response = api.call("POST", "entities/counter/k", {"op": "add"}, JSON_HEADERS, DEEP_OBJECT)
    assert_error(response, 400, "Could not parse JSON content", f"The operation input is JSON {TOO_DEEP}")


def test_a_flat_body_still_starts(api: Api) -> None:
    nested = "[" * 50 + "]" * 50
    assert api.start(body=nested)
