"""Binding expressions (§7): %app settings%, {binding data} templates, JSON body binding data, blob paths (§6.2)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from overcast.bindings.expressions import (
    BindingTemplate,
    BlobPathPattern,
    binding_data_from_json_body,
    dotnet_double,
    dotnet_guid,
    merge_binding_data,
    resolve_app_settings,
)
from overcast.errors import BindingDataError, ConfigError, OvercastError

NOW = datetime(2024, 10, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)
WHAT = "function 'f', binding 'msg' queueName"
GUID_D = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def bind(template: str, data: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return BindingTemplate.parse(template).bind(data or {}, now=kwargs.pop("now", NOW), **kwargs)


# ----------------------------------------------------------------------------------------------- %settings%

ENV = {"QUEUE": "orders", "Q2": "x", "Section__Key": "nested", "Other:Name": "colon", "MixedCase": "mc", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("%QUEUE%", "orders"),
        ("in-%QUEUE%-%Q2%/x", "in-orders-x/x"),
        ("%Section:Key%", "nested"),  # ':' looked up as '__'
        ("%Section__Key%", "nested"),
        ("%Other__Name%", "colon"),  # and '__' as ':'
        ("%mixedcase%", "mc"),  # configuration keys ignore case
        ("%EMPTY%", ""),  # an empty setting is a value
        ("{id}-%QUEUE%", "{id}-orders"),  # templates are left to BindingTemplate
    ],
)
def test_resolve_app_settings(text: str, expected: str) -> None:
    assert resolve_app_settings(text, ENV, what=WHAT) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%QUEUE", f"{WHAT}: The '%' at position 0 does not have a closing '%'."),
        ("ab%QUEUE%cd%", f"{WHAT}: The '%' at position 11 does not have a closing '%'."),
        ("%NOPE%", f"{WHAT}: '%NOPE%' does not resolve to a value."),
        ("x-%%", f"{WHAT}: '%%' does not resolve to a value."),
    ],
)
def test_resolve_app_settings_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_app_settings(text, ENV, what=WHAT)
    assert str(info.value) == message


# ------------------------------------------------------------------------------------------------ templates

DATA: dict[str, Any] = {
    "QueueTrigger": '{"id": "42"}',
    "id": "42",
    "DequeueCount": 3,
    "order": {"Customer": {"Name": "Ada"}, "total": 9.5, "paid": True, "note": None, "lines": [1]},
    "flag": False,
    "ratio": 1.0,
    "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    "naive": datetime(2024, 1, 2, 3, 4, 5),
    "gid": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "missingValue": None,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("static/path.txt", "static/path.txt"),
        ("receipts/{id}.json", "receipts/42.json"),
        ("{queueTrigger}", '{"id": "42"}'),
        ("{ID}-{Id}-{iD}", "42-42-42"),  # keys are case-insensitive
        ("{DequeueCount}", "3"),
        ("{order.customer.name}", "Ada"),  # nested, case-insensitive properties
        ("{order.Customer.Name}", "Ada"),
        ("{order.total}/{order.paid}", "9.5/True"),
        ("{order.note}", ""),  # null → nothing, as the SDK appends null
        ("{missingValue}", ""),
        ("{flag}-{ratio}", "False-1"),
        ("{when}", "2024-01-02T03-04-05Z"),  # DateTime default format yyyy-MM-ddTHH-mm-ssK
        ("{naive}", "2024-01-02T03-04-05"),  # Unspecified kind: K is empty
        ("{when:yyyy/MM/dd}", "2024/01/02"),
        ("{gid}", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("{gid:N}", "0f8fad5bd9cb469fa16570867728950e"),
        ("{gid:B}", "{0f8fad5b-d9cb-469f-a165-70867728950e}"),
        ("{id:N}", "42"),  # a format is ignored on strings
        ("{{literal}}", "{literal}"),
        ("{{{id}}}", "{42}"),
        ("a}}b{{c", "a}b{c"),
        ("{_under_score}", "u"),
    ],
)
def test_bind(template: str, expected: str) -> None:
    assert bind(template, {**DATA, "_under_score": "u"}) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{DateTime}", "2024-10-01T12-30-45Z"),
        ("{datetime}", "2024-10-01T12-30-45Z"),
        ("{DateTime:yyyy}", "2024"),
        ("{DateTime:yyyy-MM-dd}", "2024-10-01"),
        ("{DateTime:HH}", "12"),
        ("{DateTime:yy-M-d H:m:s}", "24-10-1 12:30:45"),
        ("{DateTime:hh tt}", "12 PM"),
        ("{DateTime:fff}", "123"),
        ("{DateTime:ddd dddd MMM MMMM}", "Tue Tuesday Oct October"),
        ("{DateTime:yyyy'-w'MM}", "2024-w10"),  # quoted literal
        ('{DateTime:"at" HH\\h}', "at 12h"),  # double quotes and backslash escape
        ("{DateTime:%d}", "1"),  # '%' makes a one-letter custom format
        ("{DateTime:d}", "10/01/2024"),  # one letter = a standard format
        ("{DateTime:o}", "2024-10-01T12:30:45.1234560Z"),
        ("{DateTime:s}", "2024-10-01T12:30:45"),
        ("{DateTime:R}", "Tue, 01 Oct 2024 12:30:45 GMT"),
        ("{DateTime:zzz K}", "+00:00 Z"),
        ("{DateTime:yyyy.MM.dd}", "2024"),  # **[QUIRK]** the SDK gives the built-in only the text before the '.'
        ("{DateTime:}", "2024-10-01T12-30-45Z"),
        ("{sys.UtcNow}", "2024-10-01T12-30-45Z"),
        ("{sys.utcnow:yyyyMMdd}", "20241001"),
        ("{sys.UtcNow:ss.FFF}", "45.123"),
        ("{sys.UtcNow:HH:mm:ss.FFFF}", "12:30:45.1234"),
        ("logs/{DateTime:yyyy}/{id}.txt", "logs/2024/42.txt"),
    ],
)
def test_datetime_builtins(template: str, expected: str) -> None:
    assert bind(template, {"id": "42"}) == expected


def test_datetime_F_drops_the_dot_of_an_all_zero_fraction() -> None:
    assert bind("{sys.UtcNow:ss.FFF}", now=NOW.replace(microsecond=0)) == "45"


def test_datetime_offsets_and_naive_now() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert bind("{DateTime:HH}", now=datetime(2024, 1, 1, 14, tzinfo=plus2)) == "12"  # always UTC
    assert bind("{DateTime}", now=datetime(2024, 1, 1, 9)) == "2024-01-01T09-00-00Z"  # naive taken as UTC
    assert bind("{x:K zz z}", {"x": datetime(2024, 1, 1, tzinfo=plus2)}) == "+02:00 +02 +2"


def test_data_shadows_builtins() -> None:
    assert bind("{DateTime}", {"datetime": "mine"}) == "mine"
    assert bind("{rand-guid}", {"rand-guid": "mine"}) == "mine"
    assert bind("{sys.UtcNow}", {"sys": {"UtcNow": "mine"}}) == "mine"


def test_rand_guid() -> None:
    values = {bind("{rand-guid}") for _ in range(50)}
    assert len(values) == 50
    assert all(GUID_D.match(v) for v in values)
    assert re.fullmatch(r"[0-9a-f]{32}", bind("{rand-guid:N}"))
    assert re.fullmatch(r"\{[0-9a-f-]{36}\}", bind("{Rand-Guid:B}"))
    assert re.fullmatch(r"\([0-9a-f-]{36}\)", bind("{rand-guid:P}"))
    assert GUID_D.match(bind("{sys.RandGuid}"))
    first, second = bind("{rand-guid}/{rand-guid}").split("/")
    assert first != second  # each occurrence is a new GUID


def test_sys_method_name() -> None:
    assert bind("{sys.MethodName}", method_name="my_func") == "my_func"
    with pytest.raises(BindingDataError, match="Error while accessing 'MethodName'"):
        bind("{sys.MethodName}")


def test_parameters() -> None:
    template = BindingTemplate.parse("{a}/{b.c}/{a}/{DateTime:yyyy}/{x:N}/{{lit}}")
    assert template.parameters == ("a", "b", "DateTime", "x")
    assert BindingTemplate.parse("plain").parameters == ()
    assert template.pattern == "{a}/{b.c}/{a}/{DateTime:yyyy}/{x:N}/{{lit}}"


@pytest.mark.parametrize(
    ("template", "data", "message"),
    [
        ("receipts/{id}.json", {}, "No value for named parameter 'id'."),
        ("{order.customer}", {}, "No value for named parameter 'order'."),
        ("{order.missing}", DATA, "Error while accessing 'missing': property doesn't exist."),
        ("{id.length}", DATA, "Error while accessing 'length': property doesn't exist."),
        ("{order}", DATA, "Binding expression '{order}' refers to a JSON object;"),
        ("{order.customer}", DATA, "Binding expression '{order.customer}' refers to a JSON object;"),
        ("{order.lines}", DATA, "Binding expression '{order.lines}' refers to a JSON array;"),
        ("{raw}", {"raw": b"x"}, "Binding expression '{raw}' refers to a value of type bytes;"),
        ("{when:q}", DATA, "Invalid format 'q' in binding expression '{when:q}'."),
        ("{when:ffffffff}", DATA, "Invalid format 'ffffffff'"),
        ("{when:'open}", DATA, "Invalid format ''open'"),
        ("{gid:Z}", DATA, "Invalid format 'Z' in binding expression '{gid:Z}'."),
    ],
)
def test_bind_errors(template: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(BindingDataError) as info:
        bind(template, data)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, OvercastError)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{id", "Invalid template '{id'. Missing closing bracket at position 1."),
        ("id}", "Invalid template 'id}'. Missing opening bracket at position 3."),
        ("{a}}", "Invalid template '{a}}'. Missing opening bracket at position 4."),
        ("x{a{b}", "Invalid template 'x{a{b}'. Missing closing bracket at position 2."),
        ("a/{}", "Invalid template 'a/{}'. The parameter name at position 3 is empty."),
        ("{a-b}", "Invalid template '{a-b}'. The parameter name 'a-b' is invalid."),
        ("{1a}", "Invalid template '{1a}'. Invalid template expression '1a'."),
        ("{ id }", "Invalid template '{ id }'. Invalid template expression ' id '."),
        ("{:fmt}", "Invalid template '{:fmt}'. Invalid template expression ':fmt'."),
        ("{a..b}", "Invalid template '{a..b}'. The expression 'a..b' has an empty part."),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        BindingTemplate.parse(template)
    assert str(info.value) == message


# ------------------------------------------------------------------------------------ JSON body → binding data


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"id": "42"}', {"id": "42"}),
        (' {"n": 7, "big": 12345678901234567890} ', {"n": "7", "big": "12345678901234567890"}),
        ('{"b": true, "c": false, "s": "text"}', {"b": "True", "c": "False", "s": "text"}),
        ('{"f": 1.0, "g": 2.5, "h": 1e15, "i": 0.00001}', {"f": "1", "g": "2.5", "h": "1E+15", "i": "1E-05"}),
        ('{"data": {"url": "http://x"}, "list": [1, 2], "none": null}', {"data": {"url": "http://x"}}),
        ('{"when": "2024-01-31T10:00:00Z"}', {"when": "01/31/2024 10:00:00"}),  # **[QUIRK]** Newtonsoft dates
        ('{"when": "2024-01-31T10:00:00.1234567+02:00"}', {"when": "01/31/2024 08:00:00"}),
        ('{"when": "2024-01-31T10:00:00"}', {"when": "01/31/2024 10:00:00"}),
        ('{"when": "2024-02-30T10:00:00Z"}', {"when": "2024-02-30T10:00:00Z"}),  # not a date: kept
        ('{"day": "2024-01-31"}', {"day": "2024-01-31"}),  # too short for Newtonsoft to try
        ('{"a": 1, "a": 2}', {"a": "2"}),
        ("[1, 2]", {}),
        ("not json", {}),
        ("{broken", {}),
        ('"text"', {}),
        ("", {}),
    ],
)
def test_binding_data_from_json_body(body: str, expected: dict[str, Any]) -> None:
    assert binding_data_from_json_body(body) == expected


def test_json_body_then_template() -> None:
    metadata: dict[str, Any] = {
        "QueueTrigger": '{"Id": "from-body", "order": {"Url": "u"}}',
        "Id": "message-id",
        "DequeueCount": 1,
    }
    data = merge_binding_data(metadata, binding_data_from_json_body(metadata["QueueTrigger"]))
    assert bind("{id}/{ID}/{order.url}/{DequeueCount}", data) == "from-body/from-body/u/1"  # the body wins


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, "1"), (1.5, "1.5"), (-2.25, "-2.25"), (100.0, "100"), (1e14, "100000000000000"), (1e15, "1E+15"),
     (0.0001, "0.0001"), (0.00001, "1E-05"), (1.5e-7, "1.5E-07"), (1.2345678901234568e20, "1.2345678901234568E+20"),
     (12345678901234568.0, "12345678901234568"), (0.1 + 0.2, "0.30000000000000004"), (0.0, "0"), (-0.0, "-0"),
     (float("inf"), "Infinity"), (float("nan"), "NaN")],
)  # fmt: skip
def test_dotnet_double(value: float, expected: str) -> None:
    assert dotnet_double(value) == expected


def test_dotnet_guid_x_format() -> None:
    value = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert dotnet_guid(value, "X") == "{0x0f8fad5b,0xd9cb,0x469f,{0xa1,0x65,0x70,0x86,0x77,0x28,0x95,0x0e}}"


# ----------------------------------------------------------------------------------------------- blob paths


@pytest.mark.parametrize(
    ("pattern", "container", "blob", "expected"),
    [
        ("samples/{name}", "samples", "a.txt", {"name": "a.txt"}),
        ("samples/{name}", "samples", "dir/sub/a.txt", {"name": "dir/sub/a.txt"}),  # captures span '/'
        ("samples/{name}.csv", "samples", "x/report.csv", {"name": "x/report"}),
        ("samples/{name}.csv", "samples", "report.txt", None),
        ("samples/{name}.{ext}", "samples", "a.b.tar.gz", {"name": "a.b.tar", "ext": "gz"}),  # greedy
        ("samples/in/{name}", "samples", "in/x", {"name": "x"}),
        ("samples/in/{name}", "samples", "out/x", None),
        ("samples/{name}", "other", "a.txt", None),
        ("samples/{name}", "SAMPLES", "a.txt", None),  # the SDK's capture regex is case-sensitive
        ("samples/{name}.CSV", "samples", "a.csv", None),  # blob names do not
        ("samples/{name}", "samples", "", {"name": ""}),
        ("samples/{a}-{a}", "samples", "x-y-z", {"a": "z"}),  # a repeated name: the last capture wins
        ("samples/{{x}}-{name}", "samples", "{x}-a", {"name": "a"}),
        ("samples/{DateTime}", "samples", "a", {"DateTime": "a"}),  # no built-ins in trigger paths
        ("samples", "samples", "any/blob.bin", {}),  # container alone = every blob in it
        ("samples", "other", "any/blob.bin", None),
        ("samples/fixed.txt", "samples", "fixed.txt", {}),
        ("samples/fixed.txt", "samples", "fixed.txt2", None),
        ("samples/fixed.txt", "samples", "FIXED.txt", None),
        ("samples/{{x}}.txt", "samples", "{{x}}.txt", {}),  # **[QUIRK]** fixed paths compare the raw pattern
    ],
)
def test_blob_path_match(pattern: str, container: str, blob: str, expected: dict[str, str] | None) -> None:
    parsed = BlobPathPattern.parse(pattern)
    assert parsed.container == pattern.split("/")[0]
    assert parsed.match(container, blob) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{container}/{name}", "Invalid blob trigger path '{container}/{name}'. Container paths cannot contain "
         "{resolve} tokens."),
        ("c{x}/a", "Invalid blob trigger path 'c{x}/a'. Container paths cannot contain {resolve} tokens."),
        ("{c}", "Invalid blob trigger path '{c}'. Container paths cannot contain {resolve} tokens."),
        ("/name", "Invalid blob trigger path '/name'. Paths must be in the format 'container/blob'."),
        ("samples/", "Invalid blob trigger path 'samples/'. Paths must be in the format 'container/blob'."),
        ("a\\b/c", "Invalid blob trigger path 'a\\b/c'. Paths must be in the format 'container/blob'."),
        ("samples/{a.b}", "Invalid blob trigger path 'samples/{a.b}'. '{a.b}' cannot capture a value."),
        ("samples/{rand-guid}", "Invalid blob trigger path 'samples/{rand-guid}'. '{rand-guid}' cannot capture"),
        ("samples/{name:N}", "Invalid blob trigger path 'samples/{name:N}'. '{name:N}' cannot capture a value."),
        ("samples/{name", "Invalid template 'samples/{name'. Missing closing bracket at position 9."),
    ],
)  # fmt: skip
def test_blob_path_errors(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        BlobPathPattern.parse(pattern)
    assert str(info.value).startswith(message)
