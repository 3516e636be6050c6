# ruff: noqa: UP006  (typing.List is what apps write and what the library's converters understand)
"""Issue 8 (A): the worker's annotation and implicit-output rules, the host's response without an http output, and
the index-time messages for misspelt binding types and durable ``context_name``."""

from __future__ import annotations

import base64
import typing
from typing import Any

import azure.functions as func
import pytest
from azure.functions.meta import Datum

from overcast.app.spec import BindingSpec
from overcast.app.validate import _close_binding_types, host_errors, worker_check
from overcast.errors import FunctionLoadError
from overcast.web.http_out import JSON_UTF8, TEXT_PLAIN, reply_from_return


def binding(name: str, kind: str, direction: str = "in", **raw: Any) -> BindingSpec:
    return BindingSpec(name, kind, direction, None, {"name": name, "type": kind, "direction": direction, **raw})  # type: ignore[arg-type]


def make(annotation: Any) -> Any:
    def fn(req, x):  # type: ignore[no-untyped-def]
        return None

    fn.__annotations__.update(req=func.HttpRequest, x=annotation)
    return fn


HTTP = binding("req", "httpTrigger")


@pytest.mark.parametrize(
    ("kind", "direction", "annotation", "accepted"),
    [
        ("queue", "out", func.Out[typing.List[str]], True),
        ("queue", "out", func.Out[list[str]], False),  # the library only understands typing.List
        ("queue", "out", func.Out[typing.List[bytes]], True),
        ("queue", "out", func.Out[str], True),
        ("queue", "out", func.Out[func.QueueMessage], True),
        # The library's own check rejects it (abc QueueMessage is no subclass of func.QueueMessage): on Azure too.
        ("queue", "out", func.Out[typing.List[func.QueueMessage]], False),
        ("queue", "out", func.Out[typing.List[int]], False),
        ("eventHub", "out", func.Out[typing.List[str]], True),
        ("eventHubTrigger", "in", typing.List[func.EventHubEvent], True),
        ("eventHubTrigger", "in", func.EventHubEvent, True),
        ("eventHubTrigger", "in", typing.List[func.QueueMessage], False),
        ("serviceBusTrigger", "in", typing.List[func.ServiceBusMessage], True),
        ("blob", "in", func.InputStream, True),
        ("blob", "in", typing.List[str], False),
    ],
)
def test_annotations_go_whole_to_the_library_converters(kind: str, direction: str, annotation: Any,
                                                        accepted: bool) -> None:
    bindings = [HTTP, binding("x", kind, direction), binding("$return", "http", "out")]
    if accepted:
        params, *_ = worker_check("f", make(annotation), bindings)
        assert params[1].pytype == (typing.get_args(annotation)[0] if direction == "out" else annotation)
    else:
        with pytest.raises(FunctionLoadError, match="does not match its Python annotation"):
            worker_check("f", make(annotation), bindings)


def two_params(req, x):  # type: ignore[no-untyped-def]
    return None


@pytest.mark.parametrize(
    ("bindings", "return_converter"),
    [
        # the worker's get_return_binding: an explicit $return wins, else the last binding with an implicit output
        ([HTTP, binding("x", "table")], "table"),
        ([HTTP, binding("x", "generic")], "generic"),
        ([HTTP, binding("x", "orchestrationClient")], "orchestrationClient"),
        ([HTTP, binding("x", "durableClient")], None),
        ([HTTP, binding("x", "blob")], None),
        ([HTTP, binding("x", "queue", "out")], None),
        ([HTTP, binding("x", "table", "out")], "table"),
        ([HTTP, binding("x", "table"), binding("$return", "queue", "out")], "queue"),
        ([binding("$return", "blob", "out"), HTTP, binding("x", "table")], "blob"),
        ([binding("req", "queueTrigger"), binding("x", "table")], "table"),
        ([binding("req", "activityTrigger"), binding("x", "blob")], "activityTrigger"),
    ],
)
def test_implicit_output_is_decided_over_every_binding(bindings: list[BindingSpec],
                                                       return_converter: str | None) -> None:
    _, _, return_type, _ = worker_check("f", two_params, bindings)
    assert return_type == return_converter


@pytest.mark.parametrize(
    ("datum", "accept", "status", "content_type", "body"),
    [
        (None, None, 204, None, b""),
        (Datum(None, None), None, 204, None, b""),
        (Datum("FROM RETURN", "string"), None, 200, TEXT_PLAIN, b"FROM RETURN"),
        (Datum('{"a": 1}', "string"), None, 200, TEXT_PLAIN, b'{"a": 1}'),  # a string is never re-parsed
        (Datum("x", "string"), "*/*", 200, TEXT_PLAIN, b"x"),
        (Datum("x", "string"), "application/json, */*;q=0.8", 200, TEXT_PLAIN, b"x"),  # */* disables negotiation
        (Datum("x", "string"), "application/json", 200, JSON_UTF8, b'"x"'),
        (Datum("x", "string"), "text/json", 200, "text/json; charset=utf-8", b'"x"'),
        (Datum("x", "string"), "text/html", 200, TEXT_PLAIN, b"x"),  # nothing writes it: the first formatter
        (Datum("x", "string"), "application/json;q=0.5, text/plain", 200, TEXT_PLAIN, b"x"),
        (Datum(b"\x00\xff", "bytes"), None, 200, JSON_UTF8, b'"' + base64.b64encode(b"\x00\xff") + b'"'),
        (Datum('{"é": [1, 2.5, true, null]}', "json"), None, 200, JSON_UTF8, '{"é":[1,2.5,true,null]}'.encode()),
        (Datum('"s"', "json"), "text/plain", 200, JSON_UTF8, b'"s"'),
        (Datum(5, "int"), None, 200, JSON_UTF8, b"5"),
        (Datum(2.5, "double"), None, 200, JSON_UTF8, b"2.5"),
    ],
)
def test_response_from_the_return_value_when_no_http_output_set_one(
    datum: Any, accept: str | None, status: int, content_type: str | None, body: bytes
) -> None:
    reply = reply_from_return(datum, accept)
    assert (reply.status, dict(reply.headers).get("content-type"), reply.body) == (status, content_type, body)


@pytest.mark.parametrize(
    ("kind", "close"),
    [
        ("queueTriger", ["queueTrigger"]),
        ("httpTriger", ["httpTrigger"]),
        ("tabel", ["table"]),
        ("eventHubTriger", ["eventHubTrigger"]),
        ("queueTrigger", []),
        ("QueueTrigger", []),  # the host compares type names without case
        ("orchestrationClient", []),
        ("twilioSms", []),
        ("somethingElse", []),
    ],
)
def test_misspelt_binding_types_get_suggestions(kind: str, close: list[str]) -> None:
    assert _close_binding_types(kind) == close


def test_a_misspelt_trigger_is_one_error() -> None:
    errors = host_errors("typo", [binding("msg", "queueTriger")])
    assert errors == ["Unknown binding type 'queueTriger' (binding 'msg'). Did you mean 'queueTrigger'?"]


@pytest.mark.parametrize("decorator", ["orchestration_trigger", "entity_trigger"])
def test_durable_context_name_other_than_context_is_named(decorator: str) -> None:
    kind = {"orchestration_trigger": "orchestrationTrigger", "entity_trigger": "entityTrigger"}[decorator]

    def handle(context):  # type: ignore[no-untyped-def]  # the SDK's wrapper
        return ""

    with pytest.raises(FunctionLoadError, match=f'@app.{decorator}\\(context_name="ctx"\\) cannot work'):
        worker_check("orch", handle, [binding("ctx", kind)])
    worker_check("orch", handle, [binding("context", kind)])
