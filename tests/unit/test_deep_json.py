"""JSON from outside nested deeper than Python's reader goes: one InputError (a ValueError) saying so, wherever the
host parses such JSON, never a RecursionError escaping a handler."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import azure.functions as func
import pytest

from overcast.backends.base import QueuedMessage, encode_entity
from overcast.bindings import table as table_binding
from overcast.bindings.expressions import binding_data_from_json_body
from overcast.bindings.io import http_binding_data
from overcast.bindings.queue import binding_data
from overcast.config import json_text
from overcast.durable.api.status_json import parse_stored
from overcast.errors import InputError, OvercastError

DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
TOO_DEEP = "nested too deeply to read"


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": [1, {"b": null}]}', {"a": [1, {"b": None}]}), ("[[[]]]", [[[]]]), ('"x"', "x")],
)
def test_readable_json_is_read(text: str, expected: Any) -> None:
    assert json_text.loads(text, "The body") == expected


def test_nesting_in_the_hundreds_is_read() -> None:
    value = json_text.loads("[" * 300 + "]" * 300, "The body")
    for _ in range(299):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("text", [DEEP_OBJECT, DEEP_ARRAY, '{"x": ' + DEEP_ARRAY + "}"])
def test_too_deep_is_an_input_error_that_says_so(text: str) -> None:
    with pytest.raises(InputError, match=f"^The body is JSON {TOO_DEEP}: Python reads at most about"):
        json_text.loads(text, "The body")


def test_invalid_json_is_still_a_plain_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_text.loads("{oops", "The body")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ('{"id": "42"}', {"id": "42"}),
        ("{not json}", {}),  # as the host: a body its reader rejects adds no binding data
        (DEEP_ARRAY, {}),  # not an object: never parsed for binding data
        (DEEP_OBJECT, InputError),  # an object the host cannot read: the message is refused
    ],
)
def test_queue_binding_data_from_the_body(body: str, outcome: Any) -> None:
    now = datetime.now(timezone.utc)
    message = QueuedMessage("m1", body.encode(), 1, now, now, now, "r")
    if outcome is InputError:
        with pytest.raises(InputError, match=f"The message body is JSON {TOO_DEEP}"):
            binding_data(message, body.encode())
    else:
        assert {k: v for k, v in binding_data(message, body.encode()).items() if k == "id"} == outcome
        assert binding_data_from_json_body(body) == outcome


@pytest.mark.parametrize("body", [DEEP_OBJECT.encode(), b"{not json}", b"\xff{"])
def test_http_binding_data_ignores_a_body_it_cannot_read(body: bytes) -> None:
    request = func.HttpRequest("POST", "http://localhost/api/x", params={"code": "k", "name": "n"},
                               route_params={"id": "7"}, body=body)
    data = http_binding_data(request)
    assert (data["name"], data["id"], data["Query"]) == ("n", "7", {"name": "n"})


def test_a_too_deep_table_output_is_a_binding_error() -> None:
    from azure.functions.meta import Datum

    with pytest.raises(table_binding.TableBindingError, match=f"JSON {TOO_DEEP}"):
        table_binding.entities(Datum(DEEP_OBJECT, "string"), "p", "r", "out")


def test_a_too_deep_entity_cannot_be_stored() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(OvercastError, match="nested too deeply"):
        encode_entity("t", {"PartitionKey": "p", "RowKey": "r", "deep": deep})


def test_a_stored_payload_too_deep_to_read_is_shown_as_text() -> None:
    assert parse_stored(DEEP_ARRAY) == DEEP_ARRAY


@pytest.mark.parametrize("body", [DEEP_OBJECT.encode(), b"not json", b'{"FunctionId": "x"}', b"[1]"])
def test_an_unreadable_blob_trigger_message_is_refused(body: bytes) -> None:
    import asyncio

    from overcast.backends.memory import MemoryBlobStore, MemoryQueueStore
    from overcast.triggers.blob import BlobQueueListener
    from overcast.triggers.queue_options import QueueOptions
    from overcast.triggers.wakeup import Wakeups

    async def unused(*_: Any) -> Any:
        raise AssertionError("never called")

    listener = BlobQueueListener({}, MemoryBlobStore(), {}, "q", MemoryQueueStore(), unused, QueueOptions(),
                                 Wakeups(), unused)
    now = datetime.now(timezone.utc)
    with pytest.raises(InputError):  # the queue listener moves it to webjobs-blobtrigger-poison at once
        asyncio.run(listener.prepare(QueuedMessage("m", body, 1, now, now, now, "r"), body))
