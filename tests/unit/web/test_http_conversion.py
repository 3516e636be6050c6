"""The HTTP hot-path shortcuts equal the azure-functions library's converters; the host's output conversions.

``make_request`` and ``reply_from_response`` skip the library's Datum round trip for speed; these property tests
prove that they build exactly what ``HttpRequestConverter.decode`` and ``HttpResponseConverter.encode`` (followed by
``reply_from_datum``) build, for generated requests and responses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import azure.functions as func
import pytest
from azure.functions.meta import Datum, get_binding_registry
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from overcast.invoke.model import new_invocation_id
from overcast.web.http_in import http_datum, joined_headers, joined_query, make_request, raw_path
from overcast.web.http_out import TEXT_PLAIN, HttpReply, reply_from_datum, reply_from_response, reply_from_string

PROPERTY = settings(deadline=None, database=None, max_examples=300)

# --------------------------------------------------------------------------------------------------------------------
# Requests: make_request == HttpRequestConverter.decode(http_datum(...))

methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "Post", "X-JUNK", "M-SEARCH"]),
    st.text(min_size=1, max_size=12),
)
PATH_PIECES = st.sampled_from(
    [b"/", b"//", b"api", b"echo", b"items", b"42", b"%2F", b"%zz", b"%ff%fe", b"%C3%A9", b"\xc3\xa9", b"\xff",
     b".", b"..", b";", b"%", b" ", b"+", b"~", b"?"]
)
raw_paths = st.one_of(
    st.lists(PATH_PIECES, max_size=12).map(lambda parts: b"/" + b"".join(parts)),
    st.binary(max_size=40).map(lambda b: b"/" + b),
)
QUERY_KEYS = st.sampled_from(["a", "A", "name", "code", "", "k%20y", "%ff", "é", "a+b", "x[]"])
QUERY_VALUES = st.one_of(
    st.sampled_from(["", "1", "two", "%zz", "%C3%A9", "a+b", "=", "%26", "é"]), st.text(max_size=8)
)
query_pairs = st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=8).map(
    lambda pairs: "&".join(f"{k}={v}" if v or k else k for k, v in pairs).encode("utf-8", "surrogatepass")
)
query_strings = st.one_of(query_pairs, st.binary(max_size=30), st.just(b""), st.just(b"a&&b=&=c&d"))
HEADER_NAMES = st.one_of(
    st.sampled_from([b"Host", b"host", b"X-A", b"x-a", b"Content-Type", b"content-length", b"Cookie", b"Origin",
                     b"x-functions-key", b"Accept"]),
    st.binary(min_size=1, max_size=10),
)
HEADER_VALUES = st.one_of(
    st.sampled_from([b"", b"application/json", b"text/plain; charset=latin-1", b"localhost:7071", b"a, b"]),
    st.binary(max_size=20),
    st.text(st.characters(max_codepoint=255), max_size=20).map(lambda t: t.encode("latin-1")),
)
header_lists = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=10)
bodies = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"", b'{"name": "Ada"}', b"[1, 2]", b'"text"', b"1.5", b"null", b"NaN", b"\xff\xfe", b"\xc3",
                     b'{"a": "\xe9"}', b"\xef\xbb\xbf{}", b"{", "é☃".encode()]),
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
route_params = st.dictionaries(st.text(max_size=6), st.text(max_size=10), max_size=3)
servers = st.sampled_from([("localhost", 7071), ("127.0.0.1", None), ("::1", 80), None])


@st.composite
def scopes(draw: st.DrawFn) -> dict[str, Any]:
    raw = draw(raw_paths)
    scope: dict[str, Any] = {
        "type": "http",
        "method": draw(methods),
        "scheme": draw(st.sampled_from(["http", "https"])),
        "path": unquote(raw.decode("latin-1")),
        "query_string": draw(query_strings),
        "headers": draw(header_lists),
    }
    if draw(st.booleans()):
        scope["raw_path"] = raw
    server = draw(servers)
    if server is not None:
        scope["server"] = server
    return scope


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", repr(call()))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def request_snapshot(req: func.HttpRequest) -> tuple[Any, ...]:
    return (
        req.method,
        req.url,
        dict(req.headers),
        dict(req.params),
        dict(req.route_params),
        req.get_body(),
        outcome(req.get_json),
        [(k, req.headers.get(k)) for k in ("host", "HOST", "content-type", "Content-Type", "x-missing")],
    )


@PROPERTY
@given(scope=scopes(), params=route_params, body=bodies, explicit_path=st.booleans())
def test_make_request_equals_the_library_converter(
    scope: dict[str, Any], params: dict[str, str], body: bytes, explicit_path: bool
) -> None:
    headers = joined_headers(scope)
    query = joined_query(scope["query_string"])
    converter = get_binding_registry().get("httpTrigger")
    expected = converter.decode(http_datum(scope, headers, query, params, body), trigger_metadata={})
    # The web app passes the raw path it routed on; without it make_request computes the same one.
    actual = make_request(scope, headers, query, params, body, raw_path(scope) if explicit_path else None)
    assert type(actual) is type(expected)
    assert request_snapshot(actual) == request_snapshot(expected)


@pytest.mark.parametrize(
    ("scope", "url"),
    [
        ({"method": "GET", "path": "/api/x", "raw_path": b"/api/x", "query_string": b"", "headers": [(b"host", b"h")]},
         "http://h/api/x"),
        ({"method": "GET", "path": "/api/x", "raw_path": b"/api/x?ignored", "query_string": b"a=1",
          "headers": [(b"Host", b"h:1")], "scheme": "https"}, "https://h:1/api/x?a=1"),
        ({"method": "GET", "path": "/api/é x", "query_string": b"", "headers": [], "server": ("127.0.0.1", 7071)},
         "http://127.0.0.1:7071/api/%C3%A9%20x"),
        ({"method": "GET", "path": "/", "query_string": b"", "headers": [], "server": ("unix", None)}, "http://unix/"),
        ({"method": "GET", "path": "/", "query_string": b"", "headers": []}, "http://localhost/"),
        ({"method": "GET", "path": "/a%2Fb", "raw_path": b"/a%2Fb", "query_string": b"q=%ff", "headers": []},
         "http://localhost/a%2Fb?q=%ff"),
    ],
)
def test_request_url(scope: dict[str, Any], url: str) -> None:
    headers = joined_headers(scope)
    assert make_request(scope, headers, {}, {}, b"").url == url


# --------------------------------------------------------------------------------------------------------------------
# Responses: reply_from_response == reply_from_datum(HttpResponseConverter.encode(...))

COOKIES = st.sampled_from([
    "a=1; Path=/", "b=2; HttpOnly; Secure; SameSite=Lax", 'c="quoted value"; Max-Age=60',
    "d=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "junk", "e=1, f=2", "=x", "g=", "h=1; i=2", "",
])
HEADER_NAME_TEXT = st.one_of(
    st.sampled_from(["Set-Cookie", "set-cookie", "SET-COOKIE", "Content-Type", "content-type", "X-A", "x-a",
                     "Location", "Cache-Control", "Content-Length", "Transfer-Encoding"]),
    st.text(st.sampled_from("abcXYZ-_019"), min_size=1, max_size=8),
)
HEADER_VALUE_TEXT = st.one_of(
    COOKIES,
    st.sampled_from(["application/json", "text/html; charset=latin-1", "no-cache", "", " spaced "]),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=16),
)
response_kwargs = st.fixed_dictionaries(
    {
        "body": st.one_of(st.none(), st.text(max_size=30), st.binary(max_size=30)),
        "status_code": st.one_of(st.none(), st.integers(100, 599), st.sampled_from(list(HTTPStatus))),
        "headers": st.one_of(st.none(), st.dictionaries(HEADER_NAME_TEXT, HEADER_VALUE_TEXT, max_size=6)),
        "mimetype": st.sampled_from([None, "text/plain", "text/html", "application/json", "TEXT/PLAIN",
                                     "application/octet-stream", "text/csv"]),
        "charset": st.sampled_from([None, "utf-8", "latin-1", "ascii", "utf-16"]),
    }
)


def build_response(kwargs: dict[str, Any]) -> func.HttpResponse | None:
    try:
        return func.HttpResponse(**kwargs)
    except (ValueError, UnicodeError):  # e.g. a str body the charset cannot encode
        return None


def reply_snapshot(build: Callable[[], HttpReply]) -> tuple[Any, ...]:
    try:
        reply = build()
    except Exception as exc:
        return ("error", type(exc))
    return (reply.status, reply.body, sorted(reply.headers))


@PROPERTY
@given(kwargs=response_kwargs)
def test_reply_from_response_equals_the_library_converter(kwargs: dict[str, Any]) -> None:
    assume(build_response(kwargs) is not None)
    converter = get_binding_registry().get("http")
    # encode() mutates the response's headers (content-type added, Set-Cookie popped): one response per side.
    expected = reply_snapshot(lambda: reply_from_datum(converter.encode(build_response(kwargs), expected_type=None)))
    actual = reply_snapshot(lambda: reply_from_response(build_response(kwargs)))
    assert actual == expected


@pytest.mark.parametrize(
    ("kwargs", "status", "headers", "body"),
    [
        ({}, 200, [("content-type", "text/plain; charset=utf-8")], b""),
        ({"body": "é", "charset": "latin-1"}, 200, [("content-type", "text/plain; charset=latin-1")], b"\xe9"),
        ({"body": b"{}", "mimetype": "application/json", "status_code": 201}, 201,
         [("content-type", "application/json")], b"{}"),
        ({"headers": {"Content-Type": "image/png"}, "status_code": HTTPStatus.ACCEPTED}, 202,
         [("Content-Type", "image/png")], b""),
        ({"headers": {"Set-Cookie": "a=1; Path=/", "set-cookie": "b=2; HttpOnly"}}, 200,
         [("content-type", "text/plain; charset=utf-8"), ("set-cookie", "a=1; Path=/"),
          ("set-cookie", "b=2; HttpOnly")], b""),
    ],
)
def test_reply_from_response_examples(kwargs: dict[str, Any], status: int, headers: list[tuple[str, str]],
                                      body: bytes) -> None:
    reply = reply_from_response(func.HttpResponse(**kwargs))
    assert (reply.status, sorted(reply.headers), reply.body) == (status, sorted(headers), body)


# --------------------------------------------------------------------------------------------------------------------
# A str returned for an http output: the host's string-as-JSON quirk

TEXT = ("content-type", TEXT_PLAIN)


@pytest.mark.parametrize(
    ("text", "status", "headers", "body"),
    [
        ("Hello", 200, [TEXT], b"Hello"),
        ("", 200, [TEXT], b""),
        ("{not json", 200, [TEXT], b"{not json"),
        ('{"body":"x","status":201}', 201, [TEXT], b"x"),
        ('{"body":{"a":1},"statusCode":"202","headers":{"X-A":"b"}}', 202, [("X-A", "b"), TEXT], b'{"a":1}'),
        ('{"Body":"x","StatusCode":204}', 204, [TEXT], b"x"),
        ('{"body":"x","headers":{"Content-Type":"application/json"}}', 200, [("Content-Type", "application/json")],
         b"x"),
        ('{"body":"x","status":"abc"}', 200, [TEXT], b"x"),
        ('{"body":"x","status":42}', 200, [TEXT], b"x"),
        ('{"body":[1,{"b":null}]}', 200, [TEXT], b'[1,{"b":null}]'),
        ('{"body":true,"headers":{"X-N":1.0,"X-B":false}}', 200, [("X-N", "1"), ("X-B", "False"), TEXT], b"True"),
        ('{"body":null}', 200, [TEXT], b""),
        ('{"body":"x","cookies":["a=1","b=2",3]}', 200, [TEXT, ("set-cookie", "a=1"), ("set-cookie", "b=2")], b"x"),
        ('{"a":[1]}', 200, [TEXT], b'{\n  "a": [\n    1\n  ]\n}'),
        ("123", 200, [TEXT], b"123"),
        ("1.0", 200, [TEXT], b"1"),
        ("1.5", 200, [TEXT], b"1.5"),
        ("true", 200, [TEXT], b"True"),
        ("false", 200, [TEXT], b"False"),
        ('"x"', 200, [TEXT], b"x"),
        ("null", 200, [TEXT], b""),
        ("[1,2]", 200, [TEXT], b"[\n  1,\n  2\n]"),
        ("  42  ", 200, [TEXT], b"42"),
        ("é☃", 200, [TEXT], "é☃".encode()),
    ],
)
def test_reply_from_string(text: str, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    reply = reply_from_string(text)
    assert (reply.status, reply.headers, reply.body) == (status, headers, body)
    # Through the library's converter (a str encodes as a 'string' Datum) the result is the same.
    via_datum = reply_from_datum(get_binding_registry().get("http").encode(text, expected_type=None))
    assert (via_datum.status, via_datum.headers, via_datum.body) == (status, headers, body)


@PROPERTY
@given(text=st.one_of(
    st.text(),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
            st.sampled_from(["body", "Body", "status", "statusCode", "headers", "cookies", "x"]), inner, max_size=4)),
        max_leaves=12,
    ).map(json.dumps),
))
def test_reply_from_string_never_raises(text: str) -> None:
    reply = reply_from_string(text)
    assert 100 <= reply.status <= 999
    assert isinstance(reply.body, bytes)
    assert sum(1 for k, _ in reply.headers if k.lower() == "content-type") >= 1


def test_reply_from_datum_none_is_204() -> None:
    assert reply_from_datum(None) == HttpReply(204)


def test_reply_from_datum_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="unsupported http output"):
        reply_from_datum(Datum(b"x", "bytes"))


# --------------------------------------------------------------------------------------------------------------------
# Query and headers as the host joins them


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        (b"", {}),
        (b"a=1", {"a": "1"}),
        (b"a=1&a=2", {"a": "1,2"}),
        (b"a=1&b=2&a=3", {"a": "1,3", "b": "2"}),
        (b"a=&b=1", {"b": "1"}),  # empty values are dropped
        (b"a=1&a=&a=3", {"a": "1,3"}),
        (b"flag", {}),
        (b"&&a=1&&", {"a": "1"}),
        (b"a+b=c+d", {"a b": "c d"}),
        (b"x=%41%42", {"x": "AB"}),
        (b"k=%C3%A9", {"k": "é"}),
        (b"k=%ff", {"k": "\ufffd"}),
        (b"k=%zz", {"k": "%zz"}),
        (b"%61=1&a=2", {"a": "1,2"}),
        (b"A=1&a=2", {"A": "1", "a": "2"}),  # keys are case-sensitive here
        (b"a=1;b=2", {"a": "1;b=2"}),
        (b"a==1", {"a": "=1"}),
        (b"a=x,y&a=z", {"a": "x,y,z"}),
        (b"=v", {"": "v"}),
    ],
)
def test_joined_query(query_string: bytes, expected: dict[str, str]) -> None:
    assert joined_query(query_string) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], {}),
        ([(b"Host", b"example.test")], {"host": "example.test"}),
        ([(b"X-A", b"1"), (b"x-a", b"2"), (b"X-a", b"3")], {"x-a": "1,2,3"}),
        ([(b"X-E", b""), (b"x-e", b"v")], {"x-e": ",v"}),  # empty values are kept for headers
        ([(b"X-E", b"v"), (b"x-e", b"")], {"x-e": "v,"}),
        ([(b"Accept", b"a, b"), (b"accept", b"c")], {"accept": "a, b,c"}),
        ([(b"X-Latin", b"caf\xe9")], {"x-latin": "café"}),
        ([(b"X-\xc9", b"v")], {"x-\xe9": "v"}),
        ([(b"A", b"1"), (b"B", b"2")], {"a": "1", "b": "2"}),
    ],
)
def test_joined_headers(headers: list[tuple[bytes, bytes]], expected: dict[str, str]) -> None:
    assert joined_headers({"headers": headers}) == expected


# --------------------------------------------------------------------------------------------------------------------
# Invocation ids


def test_invocation_ids_are_unique_version_4_uuids() -> None:
    ids = [new_invocation_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # canonical form: lower-case, hyphenated
