"""Property tests for route templates and the router: never raise, literals and values round-trip."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from overcast.errors import RouteTemplateError
from overcast.web.routes import Router, RouteTemplate

FUZZ = settings(deadline=None, database=None, max_examples=300)

TEMPLATES = [
    "api/hello",
    "",
    "api/items/{id}",
    "api/items/{id:int:min(1)}",
    "api/{category:alpha}/{id:guid?}",
    "api/{page:range(1,100)=1}",
    "api/{a=x}/{b?}",
    "files/{*path}",
    "files/{**path:nonfile}",
    "static/{*file:file}",
    "{file}.{ext?}",
    "v{major:int}.{minor:int}",
    "pre-{id}-post",
    "{a}-{b}-{c}",
    r"api/{code:regex(^\d{{3}}$)}",
    "api/{d:datetime}/{x:decimal}/{y:double}/{z:bool}",
    "api/{s:minlength(2):maxlength(5)}/{t:length(1,3)}/{u:long}/{v:max(5)}/{w:required}",
    "api/café/{x}",
    "100%/{y}",
    "{*all}",
]
ROUTER: Router[str] = Router(
    [(RouteTemplate.parse(t), frozenset({"GET", "POST"}) if i % 2 else None, t) for i, t in enumerate(TEMPLATES)]
)

PATH_CHARS = st.sampled_from([*"/%aAzZ09.-_~{}?*:=()+ é€\x00\n", "%2F", "%2f", "%25", "%zz", "%FF", "%C3%A9"])
path_like = st.lists(PATH_CHARS, max_size=40).map("".join)
any_path = st.one_of(st.text(), path_like, path_like.map(lambda p: "/" + p))
methods = st.one_of(st.sampled_from(["GET", "get", "POST", "DELETE", "", "ünïcode"]), st.text(max_size=10))
# Characters a URL path segment value may hold (quote() cannot encode lone surrogates).
segment_chars = st.characters(exclude_categories=["Cs"])
values = st.text(segment_chars, min_size=1)


@FUZZ
@given(method=methods, path=any_path)
def test_router_never_raises(method: str, path: str) -> None:
    result = ROUTER.match(method, path)
    if result is not None:
        target, route_values = result
        assert target in TEMPLATES
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in route_values.items())


@FUZZ
@given(path=st.text(min_size=2000, max_size=5000) | path_like.map(lambda p: "/" + p * 100))
def test_long_paths_never_raise(path: str) -> None:
    ROUTER.match("GET", path)


TEMPLATE_CHARS = st.sampled_from([*"{}/:?*=()~,.-ab1 \\^$", "int", "min(", "regex(", "}}", "{{", "length("])


@FUZZ
@given(template=st.one_of(st.text(max_size=30), st.lists(TEMPLATE_CHARS, max_size=25).map("".join)), path=any_path)
def test_parse_raises_only_route_template_error(template: str, path: str) -> None:
    try:
        parsed = RouteTemplate.parse(template)
    except RouteTemplateError:
        return
    assert parsed.raw == template
    result = parsed.match(path)
    assert result is None or set(result) <= set(parsed.parameters)


literal_segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/?{}"), min_size=1, max_size=12
)


@st.composite
def literal_route(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(template segments, the same segments with random ASCII case flips)."""
    segments = draw(st.lists(literal_segment, min_size=1, max_size=5))
    assume(not segments[0].startswith("~"))
    flipped = []
    for segment in segments:
        flips = draw(st.lists(st.booleans(), min_size=len(segment), max_size=len(segment)))
        flipped.append("".join(c.swapcase() if f and c.isascii() else c for c, f in zip(segment, flips, strict=True)))
    return segments, flipped


@FUZZ
@given(route=literal_route(), extra=literal_segment, trailing=st.booleans())
def test_literal_template_matches_exactly_its_path(
    route: tuple[list[str], list[str]], extra: str, trailing: bool
) -> None:
    segments, flipped = route
    template = RouteTemplate.parse("/".join(segments))
    path = "/" + "/".join(quote(s, safe="") for s in flipped)
    assert template.match(path + ("/" if trailing else "")) == {}
    assert template.match(path + "/" + quote(extra, safe="")) is None
    assert template.match(path + "//") is None
    if not any("%" in s for s in flipped):  # the unencoded path means the same
        raw = "/" + "/".join(flipped)
        assert template.match(raw) == {}
        assert template.match(raw + "/" + quote(extra, safe="")) is None
    if len(segments) > 1:
        assert template.match("/" + "/".join(quote(s, safe="") for s in flipped[:-1])) is None


@FUZZ
@given(value=values)
def test_parameter_round_trips_any_value(value: str) -> None:
    template = RouteTemplate.parse("api/{x}")
    assert template.match("/api/" + quote(value, safe="")) == {"x": value}
    assert template.match("/API/" + quote(value, safe="") + "/") == {"x": value}
    assert Router([(template, None, 1)]).match("GET", "/api/" + quote(value, safe="")) == (1, {"x": value})


@FUZZ
@given(parts=st.lists(values, min_size=1, max_size=5))
def test_catch_all_round_trips_segments(parts: list[str]) -> None:
    path = "/files/" + "/".join(quote(p, safe="") for p in parts)
    assert RouteTemplate.parse("files/{*rest}").match(path) == {"rest": "/".join(parts)}


@FUZZ
@given(name=values, ext=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="."), min_size=1))
def test_complex_segment_splits_on_the_last_dot(name: str, ext: str) -> None:
    template = RouteTemplate.parse("{name}.{ext}")
    assert template.match("/" + quote(f"{name}.{ext}", safe="")) == {"name": name, "ext": ext}


@FUZZ
@given(number=st.integers())
def test_int_constraint_is_32_bit(number: int) -> None:
    expected = {"id": str(number)} if -(2**31) <= number < 2**31 else None
    assert RouteTemplate.parse("{id:int}").match(f"/{number}") == expected


@FUZZ
@given(number=st.integers(min_value=-(2**70), max_value=2**70), low=st.integers(-1000, 1000))
def test_min_constraint_compares_64_bit_integers(number: int, low: int) -> None:
    expected = {"n": str(number)} if -(2**63) <= number < 2**63 and number >= low else None
    assert RouteTemplate.parse(f"{{n:min({low})}}").match(f"/{number}") == expected
