"""Route templates, matching and the router, as the Azure Functions host (ASP.NET Core routing) behaves."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from overcast.errors import RouteTemplateError
from overcast.web.routes import Router, RouteTemplate, build_template, is_reserved_route, routes_conflict

GET = frozenset({"GET"})
POST = frozenset({"POST"})


def match(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate.parse(template).match(path)


# ------------------------------------------------------------------------------------------ build_template


@pytest.mark.parametrize(
    ("prefix", "route", "expected"),
    [
        ("api", "hello", "api/hello"),
        ("api", "items/{id}", "api/items/{id}"),
        ("/api/", "hello", "api/hello"),
        ("v1/api", "x", "v1/api/x"),
        ("", "hello", "hello"),
        ("", "/hello", "hello"),
        ("", "//hello", "/hello"),
        ("/", "/hello", "hello"),
        ("api", "/hello", "api//hello"),
        ("api", "", "api/"),
        ("", "", ""),
    ],
)
def test_build_template(prefix: str, route: str, expected: str) -> None:
    assert build_template(prefix, route) == expected


def test_leading_slash_route_under_a_prefix_is_rejected() -> None:
    with pytest.raises(RouteTemplateError, match="twice in a row"):
        RouteTemplate.parse(build_template("api", "/{*route}"))


# ------------------------------------------------------------------------------------------------ literals


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/hello", "/api/hello", {}),
        ("api/hello", "/API/Hello", {}),
        ("api/hello", "/api/hello/", {}),
        ("api/hello", "/api/hello//", None),
        ("api/hello", "//api/hello", None),
        ("api/hello", "/api//hello", None),
        ("api/hello", "/api", None),
        ("api/hello", "/api/hello/x", None),
        ("api/hello", "/api/hellox", None),
        ("api/hello", "api/hello", None),
        ("api/hello", "", None),
        ("api/hello", "/api/hell%6F", {}),
        ("api/hello", "/api/HELL%6f", {}),
        ("api/hello", "/api%2Fhello", None),
        ("api/hello/", "/api/hello", {}),
        ("api/hello world", "/api/hello%20world", {}),
        ("api/hello world", "/api/hello world", {}),
        ("api/hello+world", "/api/hello+world", {}),
        ("api/hello+world", "/api/hello%20world", None),
        ("api/café", "/api/CAFÉ", {}),
        ("api/café", "/api/caf%C3%A9", {}),
        ("100%", "/100%25", {}),
        ("100%", "/100%", {}),
        ("a{{b}}c", "/a{b}c", {}),
        ("a.b", "/a.b", {}),
        ("a.b", "/axb", None),
        ("", "/", {}),
        ("", "", {}),
        ("", "/x", None),
    ],
)
def test_literal_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match(template, path) == expected


# -------------------------------------------------------------------- parameters, optional, default, catch-all


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/items/{id}", "/api/items/42", {"id": "42"}),
        ("api/items/{id}", "/API/ITEMS/AbC", {"id": "AbC"}),
        ("api/items/{id}", "/api/items/42/", {"id": "42"}),
        ("api/items/{id}", "/api/items/", None),
        ("api/items/{id}", "/api/items", None),
        ("api/items/{id}", "/api/items//", None),
        ("api/items/{id}", "/api/items/4/2", None),
        ("api/{Category}/{ID}", "/api/a/b", {"Category": "a", "ID": "b"}),
        ("{a}/{b}", "/x/y", {"a": "x", "b": "y"}),
        ("{a}/{b}", "/x", None),
        ("api/items/{id?}", "/api/items", {}),
        ("api/items/{id?}", "/api/items/", {}),
        ("api/items/{id?}", "/api/items/7", {"id": "7"}),
        ("api/items/{id?}", "/api/items/7/8", None),
        ("{id?}", "/", {}),
        ("{id?}", "/x", {"id": "x"}),
        ("api/{page=1}", "/api", {"page": "1"}),
        ("api/{page=1}", "/api/", {"page": "1"}),
        ("api/{page=1}", "/api/5", {"page": "5"}),
        ("api/{a=x}/{b=y}", "/api", {"a": "x", "b": "y"}),
        ("api/{a=x}/{b=y}", "/api/1", {"a": "1", "b": "y"}),
        ("api/{a=x}/{b=y}", "/api/1/2", {"a": "1", "b": "2"}),
        ("api/{a=x}/{b?}", "/api", {"a": "x"}),
        ("api/{a=x}/tail", "/api/tail", None),
        ("api/{a=x}/tail", "/api/1/tail", {"a": "1"}),
        ("api/{a=}", "/api", {"a": ""}),
        ("api/{a=x=y}", "/api", {"a": "x=y"}),
        ("files/{*path}", "/files", {}),
        ("files/{*path}", "/files/", {}),
        ("files/{*path}", "/files//", None),
        ("files/{*path}", "/files//x", None),
        ("files/{*path}", "/files/a", {"path": "a"}),
        ("files/{*path}", "/files/a/b/c", {"path": "a/b/c"}),
        ("files/{*path}", "/files/a//b", {"path": "a//b"}),
        ("files/{*path}", "/files/a/b/", {"path": "a/b/"}),
        ("files/{*path}", "/FILES/A/B", {"path": "A/B"}),
        ("files/{*path}", "/filesx/a", None),
        ("files/{**path}", "/files/a/b", {"path": "a/b"}),
        ("files/{*path=index.html}", "/files", {"path": "index.html"}),
        ("files/{*path=index.html}", "/files/a", {"path": "a"}),
        ("{*all}", "/", {}),
        ("{*all}", "", {}),
        ("{*all}", "/anything/at/all", {"all": "anything/at/all"}),
        ("api/{v=1}/{*rest}", "/api", {"v": "1"}),
        ("api/{v=1}/{*rest}", "/api/2/x/y", {"v": "2", "rest": "x/y"}),
        ("{:x}", "/v", {":x": "v"}),
        ("{=x}", "/v", {"=x": "v"}),
        ("{a:}", "/v", {"a": "v"}),
    ],
)
def test_parameters(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match(template, path) == expected


# ------------------------------------------------------------------------------------------ complex segments


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("{file}.{ext}", "/report.pdf", {"file": "report", "ext": "pdf"}),
        ("{file}.{ext}", "/a.b.c", {"file": "a.b", "ext": "c"}),
        ("{file}.{ext}", "/a..b", {"file": "a.", "ext": "b"}),
        ("{file}.{ext}", "/a.b.", {"file": "a", "ext": "b."}),
        ("{file}.{ext}", "/report", None),
        ("{file}.{ext}", "/.pdf", None),
        ("{file}.{ext}", "/report.", None),
        ("{file}.{ext}", "/report%2Epdf", {"file": "report", "ext": "pdf"}),
        ("{file}.{ext?}", "/report", {"file": "report"}),
        ("{file}.{ext?}", "/report.pdf", {"file": "report", "ext": "pdf"}),
        ("{file}.{ext?}", "/report.", None),
        ("{file}.{ext?}", "/.pdf", {"file": ".pdf"}),
        ("files/{file}.{ext?}", "/files/a.b.c", {"file": "a.b", "ext": "c"}),
        ("prefix-{id}", "/prefix-42", {"id": "42"}),
        ("prefix-{id}", "/PREFIX-42", {"id": "42"}),
        ("prefix-{id}", "/prefix-", None),
        ("prefix-{id}", "/xprefix-42", None),
        ("pre{a}", "/prepreX", None),
        ("{id}-suffix", "/42-suffix", {"id": "42"}),
        ("{id}-suffix", "/42-suffix-suffix", {"id": "42-suffix"}),
        ("{id}-suffix", "/42-suffixx", None),
        ("{a}-{b}", "/x-y-z", {"a": "x-y", "b": "z"}),
        ("{a}-{b}", "/-y", None),
        ("{a}-{b}", "/x-", None),
        ("{a}-{b}-{c}", "/1-2-3", {"a": "1", "b": "2", "c": "3"}),
        ("{a}-{b}-{c}", "/1-2-3-4", {"a": "1-2", "b": "3", "c": "4"}),
        ("item{{-{id}", "/item{-5", {"id": "5"}),
        ("v{major}.{minor}", "/v1.2", {"major": "1", "minor": "2"}),
        ("v{major}.{minor}", "/V1.2", {"major": "1", "minor": "2"}),
        ("{a}.{b:int}", "/x.1", {"a": "x", "b": "1"}),
        ("{a}.{b:int}", "/x.y", None),
        ("{a}.{b:int}", "/1.y", None),
    ],
)
def test_complex_segments(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match(template, path) == expected


# ---------------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/items/a%20b", "a b"),
        ("/api/items/a+b", "a+b"),
        ("/api/items/a%2Fb", "a/b"),
        ("/api/items/a%2fb", "a/b"),
        ("/api/items/%25", "%"),
        ("/api/items/%252F", "%2F"),
        ("/api/items/%zz", "%zz"),
        ("/api/items/100%", "100%"),
        ("/api/items/%2", "%2"),
        ("/api/items/%C3%A9t%C3%A9", "été"),
        ("/api/items/été", "été"),
        ("/api/items/%FF", "\ufffd"),
        ("/api/items/%C3", "\ufffd"),
        ("/api/items/%00", "\x00"),
        ("/api/items/%3F%23", "?#"),
    ],
)
def test_values_are_percent_decoded_per_segment(path: str, expected: str) -> None:
    assert match("api/items/{id}", path) == {"id": expected}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/files/a%2Fb/c", {"rest": "a/b/c"}),
        ("/files/a%20b/c%25", {"rest": "a b/c%"}),
        ("/files/%zz/%41", {"rest": "%zz/A"}),
    ],
)
def test_catch_all_is_decoded_and_joined(path: str, expected: dict[str, str]) -> None:
    assert match("files/{*rest}", path) == expected


# --------------------------------------------------------------------------------------------- constraints

GUID = "d3b07384-d9a0-4c1e-9f8b-6a2b1e0c5f11"

CONSTRAINT_CASES: list[tuple[str, str, bool]] = [
    ("int", "42", True),
    ("int", "-42", True),
    ("int", "+7", True),
    ("int", "0042", True),
    ("int", " 5 ", True),
    ("int", "2147483647", True),
    ("int", "-2147483648", True),
    ("int", "2147483648", False),
    ("int", "-2147483649", False),
    ("int", "4.2", False),
    ("int", "abc", False),
    ("int", "1_000", False),
    ("int", "١٢", False),
    ("int", "0x1F", False),
    ("int", "1e3", False),
    ("int", "--1", False),
    ("INT", "5", True),
    ("long", "9223372036854775807", True),
    ("long", "-9223372036854775808", True),
    ("long", "00000000000000000000000001", True),
    ("long", "9223372036854775808", False),
    ("long", "1" * 5000, False),
    ("long", "x", False),
    ("bool", "true", True),
    ("bool", "FALSE", True),
    ("bool", "True", True),
    ("bool", " true ", True),
    ("bool", "yes", False),
    ("bool", "1", False),
    ("datetime", "2024-01-31", True),
    ("datetime", "2024-01-31T10:00:00", True),
    ("datetime", "2024-01-31 10:00", True),
    ("datetime", "2024-01-31T10:00:00Z", True),
    ("datetime", "2024-01-31T10:00:00.1234567+02:00", True),
    ("datetime", "2024-02-29", True),
    ("datetime", "2023-02-29", False),
    ("datetime", "2024-13-01", False),
    ("datetime", "2024-01-31T25:00", False),
    ("datetime", "31/01/2024x", False),
    ("datetime", "now", False),
    ("decimal", "1", True),
    ("decimal", "-1.5", True),
    ("decimal", "1,000.25", True),
    ("decimal", ".5", True),
    ("decimal", "5.", True),
    ("decimal", "5-", True),
    ("decimal", "79228162514264337593543950335", True),
    ("decimal", "79228162514264337593543950336", False),
    ("decimal", "1e5", False),
    ("decimal", "NaN", False),
    ("decimal", "1.2.3", False),
    ("decimal", ".", False),
    ("double", "1.5", True),
    ("double", "-2e10", True),
    ("double", "1E+3", True),
    ("double", "1,000", True),
    ("double", "1e400", True),
    ("double", "NaN", False),
    ("double", "Infinity", False),
    ("double", "-Infinity", False),
    ("double", "1e", False),
    ("double", "e5", False),
    ("double", "0x10", False),
    ("float", "3.14", True),
    ("float", "nan", False),
    ("guid", GUID, True),
    ("guid", GUID.upper(), True),
    ("guid", GUID.replace("-", ""), True),
    ("guid", "{" + GUID + "}", True),
    ("guid", "(" + GUID + ")", True),
    ("guid", GUID[:-1], False),
    ("guid", "g" + GUID[1:], False),
    ("guid", "{" + GUID + ")", False),
    ("guid", "{" + GUID.replace("-", "") + "}", False),
    ("alpha", "abc", True),
    ("alpha", "ABCdef", True),
    ("alpha", "abc1", False),
    ("alpha", "é", False),
    ("alpha", "a-b", False),
    ("minlength(3)", "abc", True),
    ("minlength(3)", "ab", False),
    ("maxlength(3)", "abc", True),
    ("maxlength(3)", "abcd", False),
    ("length(3)", "abc", True),
    ("length(3)", "ab", False),
    ("length(3)", "abcd", False),
    ("length(2,4)", "ab", True),
    ("length(2,4)", "abcd", True),
    ("length(2,4)", "a", False),
    ("length(2,4)", "abcde", False),
    ("length(2)", "\U0001f600", True),  # .NET counts UTF-16 code units
    ("length( 1 , 2 )", "a", True),
    ("min(10)", "10", True),
    ("min(10)", "99999999999", True),
    ("min(10)", "9", False),
    ("min(10)", "-1", False),
    ("min(10)", "abc", False),
    ("min(-5)", "-5", True),
    ("max(10)", "10", True),
    ("max(10)", "-5", True),
    ("max(10)", "11", False),
    ("max(10)", "x", False),
    ("range(1,5)", "1", True),
    ("range(1,5)", "5", True),
    ("range(1,5)", "3", True),
    ("range(1,5)", "0", False),
    ("range(1,5)", "6", False),
    ("range(1,5)", "2.5", False),
    (r"regex(^[a-z]+-\d+$)", "abc-12", True),
    (r"regex(^[a-z]+-\d+$)", "ABC-1", True),
    (r"regex(^[a-z]+-\d+$)", "abc", False),
    ("regex(ab)", "xxabyy", True),
    ("regex(^ab$)", "xxabyy", False),
    (r"regex(^\d{{3}}$)", "123", True),
    (r"regex(^\d{{3}}$)", "1234", False),
    (r"regex(^\d{{2,3}}$)", "12", True),
    ("regex(^a:b$)", "a:b", True),
    ("regex(^a=b$)", "a=b", True),
    (r"regex(^a\)b$)", "a)b", True),
    ("regex(^(a|b)x:c$)", "ax:c", True),
    (r"regex(^(?<year>\d{{4}})-\k<year>$)", "2024-2024", True),
    (r"regex(^(?<year>\d{{4}})-\k<year>$)", "2024-2025", False),
    ("regex(^abc$)", "abc\n", True),
    (r"regex(^abc\z)", "abc\n", False),
    (r"regex(^abc\Z)", "abc\n", True),
    ("regex(^[]a]+$)", "a]a", True),
    ("regex()", "anything", True),
    ("required", "x", True),
    ("file", "a.txt", True),
    ("file", "a..b", True),
    ("file", ".htaccess", True),
    ("file", "a.", False),
    ("file", "a..", False),
    ("file", "abc", False),
    ("nonfile", "abc", True),
    ("nonfile", "a.txt", False),
    ("nonfile", "a.", True),
]


@pytest.mark.parametrize(("constraint", "value", "matches"), CONSTRAINT_CASES)
def test_constraints(constraint: str, value: str, matches: bool) -> None:
    result = match(f"api/{{v:{constraint}}}", "/api/" + quote(value, safe=""))
    assert result == ({"v": value} if matches else None)


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("{id:int:min(1)}", "/1", {"id": "1"}),
        ("{id:int:min(1)}", "/0", None),
        ("{id:int:min(1)}", "/x", None),
        ("{id:min(1):max(3)}", "/4", None),
        ("items/{id:int?}", "/items", {}),
        ("items/{id:int?}", "/items/x", None),
        ("items/{id:int=5}", "/items", {"id": "5"}),
        ("items/{id:int=abc}", "/items", None),
        ("items/{id:int=abc}", "/items/3", {"id": "3"}),
        ("{*p:int}", "/", None),
        ("{*p:int}", "/5", {"p": "5"}),
        ("{*p:required}", "/", None),
        ("{*p:minlength(0)}", "/", None),
        ("{*p:nonfile}", "/", {}),
        ("{*p:nonfile}", "/dir/a.txt", None),
        ("{*p:nonfile}", "/a.b/c", {"p": "a.b/c"}),
        ("{*p:file}", "/dir/a.txt", {"p": "dir/a.txt"}),
        ("{*p:file}", "/a.b/c", None),
        ("{*p:file}", "/", None),
        ("{*p:regex(^a/b$)}", "/a/b", {"p": "a/b"}),
        ("{file}.{ext:alpha?}", "/a", {"file": "a"}),
        ("{file}.{ext:alpha?}", "/a.1", None),
    ],
)
def test_constraint_combinations(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match(template, path) == expected


# ---------------------------------------------------------------------------------------- template errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/api/x", "cannot start with '/'"),
        ("~/api/x", "cannot start with '~'"),
        ("~api", "cannot start with '~'"),
        ("api//x", "twice in a row"),
        ("api/x//", "twice in a row"),
        ("{a", "incomplete parameter"),
        ("api/{a", "incomplete parameter"),
        ("a}", "incomplete parameter"),
        ("a{", "incomplete parameter"),
        ("{a}}", "incomplete parameter"),
        ("{a:regex(^\\d{3}$)}", "must be escaped"),
        ("{a{b}", "must be escaped"),
        ("{}", "parameter name '' is invalid"),
        ("{?}", "parameter name '' is invalid"),
        ("{*}", "parameter name '' is invalid"),
        ("{a?b}", "parameter name 'a?b' is invalid"),
        ("{***a}", "parameter name '*a' is invalid"),
        ("{a{{b}", "parameter name 'a{b' is invalid"),
        ("{a}/{a}", "appears more than once"),
        ("{id}/{ID}", "appears more than once"),
        ("{a}.{A}", "appears more than once"),
        ("{a?}/b", "only appear in the last segment"),
        ("{a?}/{b}", "only appear in the last segment"),
        ("{f}.{e?}/x", "only appear in the last segment"),
        ("{*a}/b", "catch-all parameter 'a' must be the last segment"),
        ("{**a}/{b}", "must be the last segment"),
        ("x{*a}", "cannot contain a catch-all"),
        ("{*a}.x", "cannot contain a catch-all"),
        ("{*a?}", "cannot be marked optional"),
        ("{**a?}", "cannot be marked optional"),
        ("{a=1?}", "cannot have a default value"),
        ("{a}{b}", "two consecutive parameters"),
        ("x{a}{b}y", "two consecutive parameters"),
        ("{a?}.{b}", "must come last"),
        ("{a}-{b?}", "only a period (.) can precede"),
        ("{a}{b?}", "only a period (.) can precede"),
        ("a?b", "cannot contain '?'"),
        ("api/x?", "cannot contain '?'"),
        ("{a:foo}", "constraint 'foo' is unknown"),
        ("{a:int:foo(1)}", "constraint 'foo' is unknown"),
        ("{a:min(1}", "constraint 'min(1' is unknown"),
        ("{a:min(x)}", "not a 64-bit integer"),
        ("{a:min()}", "not a 64-bit integer"),
        ("{a:min}", "argument(s) in parentheses"),
        ("{a:min(1,2)}", "not a 64-bit integer"),
        ("{a:max(9223372036854775808)}", "not a 64-bit integer"),
        ("{a:minlength(-1)}", "0 or more"),
        ("{a:maxlength(x)}", "not a 32-bit integer"),
        ("{a:length(1,2,3)}", "takes 1 or 2 argument(s)"),
        ("{a:length(3,1)}", "minimum not above the maximum"),
        ("{a:range(1)}", "takes 2 argument(s)"),
        ("{a:range(5,1)}", "minimum must not be above the maximum"),
        ("{a:int(3)}", "takes no arguments"),
        ("{a:int()}", "takes no arguments"),
        ("{a:regex}", "needs a regular expression"),
        ("{a:regex(()}", "not a valid regular expression"),
        ("{a:regex([)}", "not a valid regular expression"),
        ("{a:regex(^(a|b)=c$)}", "'^(a|b' is not a valid regular expression"),
        ("{a:regex(^(a|b):c$)}", "'^(a|b' is not a valid regular expression"),
        ("{a:int()x}", "constraint 'int()x' is unknown"),
        ("{a:regex(a)b)}", "not a valid regular expression"),
        ("item{{{id}}}", "parameter name 'id}' is invalid"),
        ("{ext?:alpha}", "parameter name 'ext?' is invalid"),
    ],
)
def test_invalid_templates(template: str, message: str) -> None:
    with pytest.raises(RouteTemplateError) as info:
        RouteTemplate.parse(template)
    assert message in str(info.value)
    assert repr(template) in str(info.value)


@pytest.mark.parametrize(
    ("template", "parameters"),
    [
        ("", ()),
        ("api/hello", ()),
        ("api/hello/", ()),
        ("api/{id}", ("id",)),
        ("{Category}/{Id:int}/{slug?}", ("Category", "Id", "slug")),
        ("{file}.{ext}", ("file", "ext")),
        ("{*rest}", ("rest",)),
        ("{**rest=x}", ("rest",)),
        ("{a:regex(a\\)b)}", ("a",)),
        ("{a:regex(^a=b$)=a=b}", ("a",)),
        ("{:x}", (":x",)),
        ("{a:regex(^a{{1,2}}$):minlength(1):maxlength(5)=aa}", ("a",)),
    ],
)
def test_valid_templates_and_parameters(template: str, parameters: tuple[str, ...]) -> None:
    parsed = RouteTemplate.parse(template)
    assert parsed.raw == template
    assert parsed.parameters == parameters


# ------------------------------------------------------------------------------------------------- router


def make_router() -> Router[str]:
    return Router(
        [
            (RouteTemplate.parse("api/items/special"), GET, "special"),
            (RouteTemplate.parse("api/items/{id:int}"), frozenset({"get", "Delete"}), "item-int"),
            (RouteTemplate.parse("api/items/{id}"), None, "item-any"),
            (RouteTemplate.parse("api/orders"), POST, "orders-post"),
            (RouteTemplate.parse("api/{*rest}"), frozenset({"GET"}), "fallback"),
        ]
    )


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/items/special", ("special", {})),
        ("get", "/api/items/SPECIAL/", ("special", {})),
        ("POST", "/api/items/special", ("item-any", {"id": "special"})),
        ("GET", "/api/items/5", ("item-int", {"id": "5"})),
        ("DELETE", "/api/items/5", ("item-int", {"id": "5"})),
        ("PUT", "/api/items/5", ("item-any", {"id": "5"})),
        ("GET", "/api/items/x", ("item-any", {"id": "x"})),
        ("POST", "/api/orders", ("orders-post", {})),
        ("GET", "/api/orders", ("fallback", {"rest": "orders"})),
        ("PUT", "/api/orders", None),
        ("GET", "/api", ("fallback", {})),
        ("GET", "/other", None),
        ("GET", "/api/items/5/6", ("fallback", {"rest": "items/5/6"})),
        ("OPTIONS", "/api/items/a%2Fb", ("item-any", {"id": "a/b"})),
    ],
)
def test_router_order_and_method_fall_through(
    method: str, path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert make_router().match(method, path) == expected


def test_router_uses_list_order_not_specificity() -> None:
    generic = (RouteTemplate.parse("api/{name}"), None, "generic")
    specific = (RouteTemplate.parse("api/hello"), None, "specific")
    assert Router([generic, specific]).match("GET", "/api/hello") == ("generic", {"name": "hello"})
    assert Router([specific, generic]).match("GET", "/api/hello") == ("specific", {})


def test_empty_router_and_empty_method_set() -> None:
    assert Router[str]([]).match("GET", "/") is None
    router = Router([(RouteTemplate.parse("x"), frozenset[str](), "never")])
    assert router.match("GET", "/x") is None
    assert len(router) == 1


def test_route_values_are_fresh_dicts() -> None:
    template = RouteTemplate.parse("api/hello")
    first = template.match("/api/hello")
    assert first == {}
    assert first is not None
    first["x"] = "y"
    assert template.match("/api/hello") == {}


# ------------------------------------------------------------------------------- reserved and conflicting


@pytest.mark.parametrize(
    ("route", "reserved"),
    [
        ("admin", True),
        ("admin/functions", True),
        ("Admin", True),
        ("/admin/", True),
        ("admin-only", True),
        ("administrators", True),
        ("runtime", True),
        ("runtimeinfo", True),
        ("RUNTIME/x", True),
        ("api/admin", False),
        ("myadmin", False),
        ("adm", False),
        ("", False),
        ("{admin}", False),
    ],
)
def test_is_reserved_route(route: str, reserved: bool) -> None:
    assert is_reserved_route(route) is reserved


@pytest.mark.parametrize(
    ("a", "b", "methods_a", "methods_b", "conflict"),
    [
        ("items", "items", None, None, True),
        ("items", "ITEMS", None, None, True),
        ("/items/", "items", None, None, True),
        ("items/{id}", "items/{ID}", None, None, True),
        ("items", "items", GET, None, True),
        ("items", "items", None, POST, True),
        ("items", "items", GET, POST, False),
        ("items", "items", frozenset({"GET", "POST"}), POST, True),
        ("items", "items", frozenset({"get"}), GET, True),
        ("items", "items", frozenset[str](), None, False),
        ("items", "items/x", None, None, False),
        ("items/{id}", "items/{other}", None, None, False),
    ],
)
def test_routes_conflict(
    a: str, b: str, methods_a: frozenset[str] | None, methods_b: frozenset[str] | None, conflict: bool
) -> None:
    assert routes_conflict(a, b, methods_a, methods_b) is conflict
    assert routes_conflict(b, a, methods_b, methods_a) is conflict


@pytest.mark.parametrize("constraint", sorted({c for c, _, _ in CONSTRAINT_CASES} | {"datetime", "file"}))
@pytest.mark.parametrize(
    "value",
    ["0" * 20000 + "x", "1" * 20000 + ",", "2024-01-31T10:00" + " " * 20000 + "x", " " * 20000 + "1x", "." * 20000],
)
def test_constraints_stay_linear_on_long_values(constraint: str, value: str) -> None:
    """A quadratic constraint check would hang here (no timing assertion: it just has to finish)."""
    RouteTemplate.parse(f"{{v:{constraint}}}").match("/" + quote(value, safe=""))
    RouteTemplate.parse(f"{{*v:{constraint}}}").match("/" + value)
