"""Fault item: bodies the durable HTTP API cannot read (JSON nested deeper than Python's reader goes) are a 400
naming the problem, never a 500."""

from __future__ import annotations

import pytest

from overcast.durable.core.model import instance_id_problem, task_hub_problem, text_problem

from .test_http_api import JSON_HEADERS, Api, assert_error

DEEP_ARRAY = "[" * 50_000 + "]" * 50_000  # under the payload limit: the depth, not the size, is refused
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
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


# -- names: instance ids from invalid UTF-8, task hub names ----------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "valid"),
    [("TestHubName", True), ("abc", True), ("a" * 50, True), ("Hub2024", True),
     ("ab", False), ("a" * 51, False), ("bad name!", False), ("2hub", False), ("my-hub", False), ("hub_1", False),
     ("", False), ("héllo", False), ("Hub\u0661", False)],
)
def test_task_hub_names_follow_the_azure_storage_provider(name: str, valid: bool) -> None:
    problem = task_hub_problem(name)
    assert (problem is None) is valid
    if not valid:
        assert problem == (f"Task hub name '{name}' should contain only alphanumeric characters, start with a letter, "
                           "and have length between 3 and 50.")


@pytest.mark.parametrize(
    ("instance_id", "fragment"),
    [("plain-id", None), ("café", None), ("日本", None), ("a\ufffd", "not valid UTF-8"), ("a\udcff", "not valid UTF-8"),
     ("a/b", "invalid characters"), ("@x", "must not start with @"), ("", "between 1 and 256")],
)
def test_instance_id_rules(instance_id: str, fragment: str | None) -> None:
    problem = instance_id_problem(instance_id)
    assert (problem is None) if fragment is None else (problem is not None and fragment in problem)


def test_text_problem_shows_the_bad_characters_escaped() -> None:
    assert text_problem("a\udcff", "Instance ID") == (
        "Instance ID 'a\\udcff' is not valid UTF-8 text (percent-encoded bytes such as %FF, or the replacement "
        "character U+FFFD); use UTF-8 text.")


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "orchestrators/hello/a\ufffd"), ("GET", "instances/a\ufffd"), ("POST", "instances/a\ufffd/terminate"),
    ("POST", "instances/x/raiseEvent/e\ufffd"), ("POST", "entities/counter/k\ufffd"),
])
def test_names_that_were_invalid_utf8_are_400_on_every_route(api: Api, method: str, path: str) -> None:
    response = api.call(method, path, {"op": "x"}, JSON_HEADERS, "1")
    assert_error(response, 400, "One or more of the arguments submitted is incorrect", "is not valid UTF-8 text")


def test_another_task_hub_must_be_a_valid_name(api: Api) -> None:
    assert_error(api.call("POST", "orchestrators/hello", {"taskHub": "bad hub!"}), 400,
                 "One or more of the arguments submitted is incorrect", "Task hub name 'bad hub!' should contain")
