"""The ASP.NET Core route template language, as the Azure Functions host parses it.

A port of ``RoutePatternParser``/``RouteParameterParser`` (same error cases, same quirks: for example ``{:x}``
is a parameter named ":x") and of the built-in inline constraints (``int``, ``min(1)``, ``regex(...)``...).
Matching lives in ``routes``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from overcast.errors import RouteTemplateError

__all__ = ["Constraint", "Literal", "Parameter", "Part", "fold", "parse_segments"]

# ---------------------------------------------------------------------------------------------- constraints

Check = Callable[[str], bool]
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_WS = r"[\t\n\v\f\r ]*"  # the white space .NET's NumberStyles.Allow{Leading,Trailing}White accept
_INTEGER = re.compile(rf"{_WS}([+-]?)([0-9]+){_WS}")
_NUMBER = r"(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)"  # invariant culture: ',' thousands, '.' decimal point
_DECIMAL = re.compile(rf"{_WS}(?:[+-]?({_NUMBER})|({_NUMBER})[+-]){_WS}")  # NumberStyles.Number
_FLOAT = re.compile(rf"{_WS}[+-]?{_NUMBER}(?:[eE][+-]?[0-9]+)?{_WS}")  # NumberStyles.Float | AllowThousands
_DECIMAL_MAX = Decimal("79228162514264337593543950335")
_DATETIME = re.compile(
    r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[Tt ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,7})?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\s*",
    re.ASCII,
)
_HEX_D = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_GUID = re.compile(r"\s*(?:[0-9A-Fa-f]{32}|" + _HEX_D + r"|\{" + _HEX_D + r"\}|\(" + _HEX_D + r"\))\s*", re.ASCII)
_ALPHA = re.compile(r"^[a-z]*$", re.IGNORECASE | re.ASCII)  # ASP.NET's pattern, '$' quirk included


class _BadConstraint(Exception):
    """Internal: a constraint name or its arguments are invalid (becomes a RouteTemplateError)."""


def _parse_int(text: str, bounds: tuple[int, int]) -> int | None:
    """``int.TryParse``/``long.TryParse`` with NumberStyles.Integer and the invariant culture."""
    match = _INTEGER.fullmatch(text)
    digits = match[2].lstrip("0") if match else ""
    if match is None or len(digits) > 19:
        return None
    value = -int(digits or "0") if match[1] == "-" else int(digits or "0")
    return value if bounds[0] <= value <= bounds[1] else None


def _is_decimal(text: str) -> bool:
    match = _DECIMAL.fullmatch(text)
    if match is None:
        return False
    body = (match[1] or match[2]).replace(",", "")
    digits = len(body.partition(".")[0].lstrip("0"))
    return digits < 29 or (digits == 29 and Decimal(body) <= _DECIMAL_MAX)


def _is_datetime(text: str) -> bool:
    match = _DATETIME.fullmatch(text)
    if match is None:
        return False
    try:
        year, month, day, hour, minute, second = (int(match[i] or 0) for i in range(1, 7))
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _is_file_name(text: str) -> bool:
    """``FileNameRouteConstraint.IsFileName``: the last path part has a dot followed by a non-dot."""
    tail = text[text.rfind("/") + 1 :]
    dot = tail.find(".")
    return dot != -1 and tail[dot + 1 :].strip(".") != ""


def _length(text: str) -> int:
    """.NET string length (UTF-16 code units)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def _numbers(args: str | None, counts: tuple[int, ...], bounds: tuple[int, int], *, split: bool) -> list[int]:
    if args is None:
        raise _BadConstraint(f"it needs {' or '.join(map(str, counts))} argument(s) in parentheses")
    items = args.split(",") if split else [args]
    if len(items) not in counts:
        raise _BadConstraint(f"it takes {' or '.join(map(str, counts))} argument(s), not {len(items)}")
    values: list[int] = []
    for item in items:
        value = _parse_int(item, bounds)
        if value is None:
            bits = 32 if bounds == _INT32 else 64
            raise _BadConstraint(f"the argument {item.strip()!r} is not a {bits}-bit integer")
        values.append(value)
    return values


def _no_args(check: Check) -> Callable[[str | None], Check]:
    def factory(args: str | None) -> Check:
        if args is not None:
            raise _BadConstraint("it takes no arguments")
        return check

    return factory


def _min_max_length(at_least: bool) -> Callable[[str | None], Check]:
    def factory(args: str | None) -> Check:
        (n,) = _numbers(args, (1,), _INT32, split=False)
        if n < 0:
            raise _BadConstraint("the length must be 0 or more")
        return (lambda v: _length(v) >= n) if at_least else (lambda v: _length(v) <= n)

    return factory


def _length_factory(args: str | None) -> Check:
    values = _numbers(args, (1, 2), _INT32, split=True)
    low, high = (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
    if low < 0 or high < low:
        raise _BadConstraint("the lengths must be 0 or more, the minimum not above the maximum")
    return lambda v: low <= _length(v) <= high


def _min_factory(args: str | None) -> Check:
    (n,) = _numbers(args, (1,), _INT64, split=False)
    return lambda v: (x := _parse_int(v, _INT64)) is not None and x >= n


def _max_factory(args: str | None) -> Check:
    (n,) = _numbers(args, (1,), _INT64, split=False)
    return lambda v: (x := _parse_int(v, _INT64)) is not None and x <= n


def _range_factory(args: str | None) -> Check:
    low, high = _numbers(args, (2,), _INT64, split=True)
    if high < low:
        raise _BadConstraint("the minimum must not be above the maximum")
    return lambda v: (x := _parse_int(v, _INT64)) is not None and low <= x <= high


def _translate_regex(pattern: str) -> str:
    """The few .NET-only regex spellings that Python writes differently: ``(?<n>``, ``\\k<n>``, ``\\z``, ``\\Z``."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            escape = pattern[i : i + 2]
            if not in_class and escape == "\\z":
                escape = "\\Z"
            elif not in_class and escape == "\\Z":
                escape = "(?=\\n?\\Z)"
            elif not in_class and escape == "\\k" and (m := re.match(r"<(\w+)>", pattern[i + 2 :])):
                escape, i = f"(?P={m[1]})", i + len(m[0])
            out.append(escape)
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern.startswith("^]", i + 1) or pattern.startswith("]", i + 1):
                skip = 3 if pattern[i + 1] == "^" else 2
                out.append(pattern[i : i + skip])
                i += skip
                continue
        elif re.match(r"\(\?<[^\W\d]", pattern[i:]):
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _regex_factory(args: str | None) -> Check:
    if args is None:
        raise _BadConstraint("it needs a regular expression in parentheses")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(_translate_regex(args), re.IGNORECASE)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise _BadConstraint(f"{args!r} is not a valid regular expression ({exc})") from None
    return lambda v: compiled.search(v) is not None


_FACTORIES: dict[str, Callable[[str | None], Check]] = {
    "int": _no_args(lambda v: _parse_int(v, _INT32) is not None),
    "long": _no_args(lambda v: _parse_int(v, _INT64) is not None),
    "bool": _no_args(lambda v: v.strip().lower() in ("true", "false")),
    "datetime": _no_args(_is_datetime),
    "decimal": _no_args(_is_decimal),
    "double": _no_args(lambda v: _FLOAT.fullmatch(v) is not None),
    "float": _no_args(lambda v: _FLOAT.fullmatch(v) is not None),
    "guid": _no_args(lambda v: _GUID.fullmatch(v) is not None),
    "alpha": _no_args(lambda v: _ALPHA.search(v) is not None),
    "required": _no_args(lambda v: v != ""),
    "file": _no_args(_is_file_name),
    "nonfile": _no_args(lambda v: not _is_file_name(v)),
    "minlength": _min_max_length(True),
    "maxlength": _min_max_length(False),
    "length": _length_factory,
    "min": _min_factory,
    "max": _max_factory,
    "range": _range_factory,
    "regex": _regex_factory,
}


@dataclass(frozen=True, slots=True)
class Constraint:
    text: str
    check: Check
    absent_ok: bool  # result when the parameter has no value at all (only "nonfile" says yes, as in ASP.NET)


def _resolve_constraint(text: str) -> Constraint:
    """``DefaultInlineConstraintResolver``: ``name`` or ``name(args)``; names are case-insensitive."""
    paren = text.find("(")
    if paren >= 0 and text.endswith(")"):
        key, args = text[:paren], text[paren + 1 : -1]
    else:
        key, args = text, None
    factory = _FACTORIES.get(key.lower())
    if factory is None:
        raise _BadConstraint(f"the constraint {key!r} is unknown (known: {', '.join(sorted(_FACTORIES))})")
    try:
        check = factory(args)
    except _BadConstraint as exc:
        raise _BadConstraint(f"the constraint {text!r} is invalid: {exc}") from None
    return Constraint(text, check, key.lower() == "nonfile")


# ------------------------------------------------------------------------------------------------- model


def fold(text: str) -> str:
    """Case fold that keeps indexes (ordinal ignore-case comparisons)."""
    if text.isascii():
        return text.lower()
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


@dataclass(frozen=True, slots=True)
class Literal:
    text: str
    folded: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", fold(self.text))


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    catch_all: bool
    optional: bool
    default: str | None
    constraints: tuple[Constraint, ...]


Part = Literal | Parameter


# ------------------------------------------------------------------------------------------------ parser

_CONSECUTIVE = "the separator '/' cannot appear twice in a row (there is an empty segment)"
_MISMATCHED = "there is an incomplete parameter: each '{' needs a matching '}' ('{{' and '}}' are literal braces)"
_BAD_NAME_CHARS = frozenset("/{}?*")


def _split_parameter(text: str) -> tuple[str, bool, bool, str | None, list[str]]:
    """``RouteParameterParser``: (name, catch_all, optional, default, constraint texts) of a decoded ``{...}``."""
    if not text:
        return "", False, False, None, []
    start, end = 0, len(text) - 1
    catch_all = optional = False
    if text.startswith("**"):
        catch_all, start = True, 2
    elif text[0] == "*":
        catch_all, start = True, 1
    if text[end] == "?":
        optional, end = True, end - 1
    current, name = start, ""
    while current <= end:
        if text[current] in ":=" and current != start:  # a name may start with ':' or '='
            name = text[start:current]
            current -= 1
            break
        if current == end:
            name = text[start : current + 1]
        current += 1
    constraints, current = _split_constraints(text, current, end)
    default = text[current + 1 : end + 1] if current <= end and text[current] == "=" else None
    return name, catch_all, optional, default, constraints


def _split_constraints(text: str, current: int, end: int) -> tuple[list[str], int]:
    """``RouteParameterParser.ParseConstraints``: ':'-separated, parentheses may hold ':' '=' ')' (state machine)."""
    found: list[str] = []
    state, start = "start", current
    while state != "end":
        ch = text[current] if current <= end else None
        if state == "start":
            if ch is None:
                state = "end"
            elif ch == ":":
                state, start = "name", current + 1
            elif ch == "(":
                state = "paren"
            elif ch == "=":
                state, current = "end", current - 1
        elif state == "paren":
            if ch is None:
                state = "end"
                found.append(text[start:current])
            elif ch == ")":
                after = text[current + 1] if current + 1 <= end else None
                if after is None or after == "=":
                    state = "end"
                    found.append(text[start : current + 1])
                elif after == ":":
                    state = "start"
                    found.append(text[start : current + 1])
                    start = current + 1
            elif ch in ":=":
                closing = text.find(")", current + 1)
                if closing != -1:
                    current = closing
                else:
                    found.append(text[start:current])
                    if ch == ":":
                        state, start = "name", current + 1
                    else:
                        state, current = "end", current - 1
        elif ch is None or ch in ":=":  # state == "name"
            if text[start:current]:
                found.append(text[start:current])
            if ch == ":":
                start = current + 1
            else:
                state = "end"
                current -= 1 if ch == "=" else 0
        elif ch == "(":
            state = "paren"
        current += 1
    return found, current


class _Parser:
    """``RoutePatternParser``: walks the template once, keeping its error cases and messages."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.index = -1
        self.mark = 0
        self.names: set[str] = set()

    @property
    def current(self) -> str:
        return self.template[self.index] if 0 <= self.index < len(self.template) else ""

    def move_next(self) -> bool:
        self.index += 1
        return self.index < len(self.template)

    def error(self, problem: str) -> RouteTemplateError:
        return RouteTemplateError(f"The route template {self.template!r} is invalid: {problem}.")

    def parse(self) -> list[tuple[Part, ...]]:
        if self.template.startswith(("/", "~")):
            raise self.error(f"it cannot start with {self.template[0]!r} (write the route without it)")
        segments: list[tuple[Part, ...]] = []
        while self.move_next():
            if self.current == "/":
                raise self.error(_CONSECUTIVE)
            segments.append(self.segment())
        last = len(segments) - 1
        for i, segment in enumerate(segments):
            for j, part in enumerate(segment):
                if isinstance(part, Parameter) and part.catch_all and (i != last or j != len(segment) - 1):
                    raise self.error(f"the catch-all parameter {part.name!r} must be the last segment")
                if isinstance(part, Parameter) and part.optional and i != last:
                    raise self.error(f"the optional parameter {part.name!r} can only appear in the last segment")
        return segments

    def segment(self) -> tuple[Part, ...]:
        begin = self.index
        parts: list[Part] = []
        while True:
            if self.current == "{":
                if not self.move_next():
                    raise self.error(_MISMATCHED)
                escaped = self.current == "{"
                self.index -= 1
                parts.append(self.literal() if escaped else self.parameter())
            else:
                parts.append(self.literal())
            if self.current == "/" or self.index >= len(self.template):
                break
        self.check_segment(self.template[begin : self.index], parts)
        return tuple(parts)

    def check_segment(self, text: str, parts: list[Part]) -> None:
        if len(parts) == 1:
            return
        for i, part in enumerate(parts):
            if not isinstance(part, Parameter):
                continue
            if part.catch_all:
                raise self.error(f"the segment {text!r} has more than one part, so it cannot contain a catch-all")
            if part.optional and i != len(parts) - 1:
                raise self.error(f"in the segment {text!r}, the optional parameter {part.name!r} must come last")
            previous = parts[i - 1]
            if part.optional and not (isinstance(previous, Literal) and previous.text == "."):
                raise self.error(
                    f"in the segment {text!r}, only a period (.) can precede the optional parameter {part.name!r}"
                )
            if i > 0 and isinstance(previous, Parameter):
                raise self.error(
                    f"the segment {text!r} has two consecutive parameters; separate them with a literal or '/'"
                )

    def parameter(self) -> Parameter:
        self.mark = self.index
        self.move_next()
        while True:
            if self.current == "{":
                if not self.move_next():
                    raise self.error(_MISMATCHED)
                if self.current != "{":
                    raise self.error("inside a parameter, '{' and '}' must be escaped as '{{' and '}}'")
            elif self.current == "}" and (not self.move_next() or self.current != "}"):
                break
            if not self.move_next():
                raise self.error(_MISMATCHED)
        inside = self.template[self.mark + 1 : self.index - 1].replace("}}", "}").replace("{{", "{")
        name, catch_all, optional, default, constraint_texts = _split_parameter(inside)
        if inside.startswith("*") and inside.endswith("?"):
            raise self.error(f"the catch-all parameter {name!r} cannot be marked optional")
        if optional and default is not None:
            raise self.error(f"the optional parameter {name!r} cannot have a default value")
        if not name or _BAD_NAME_CHARS.intersection(name):
            raise self.error(
                f"the parameter name {name!r} is invalid: it must be non-empty and cannot contain "
                "'/', '{', '}', '?' or '*' ('?' may only end it, '*' may only start it)"
            )
        if fold(name) in self.names:
            raise self.error(f"the parameter name {name!r} appears more than once (names ignore case)")
        self.names.add(fold(name))
        try:
            constraints = tuple(_resolve_constraint(text) for text in constraint_texts)
        except _BadConstraint as exc:
            raise self.error(f"parameter {name!r}: {exc}") from None
        return Parameter(name, catch_all, optional, default, constraints)

    def literal(self) -> Literal:
        self.mark = self.index
        while self.current != "/":
            if self.current == "{" or self.current == "}":
                brace = self.current
                if not self.move_next():
                    raise self.error(_MISMATCHED)
                if self.current != brace:
                    if brace == "}":
                        raise self.error(_MISMATCHED)
                    self.index -= 1  # the start of a parameter
                    break
            if not self.move_next():
                break
        text = self.template[self.mark : self.index].replace("}}", "}").replace("{{", "{")
        if "?" in text:
            raise self.error(f"the literal {text!r} cannot contain '?'")
        return Literal(text)


def parse_segments(template: str) -> list[tuple[Part, ...]]:
    """The segments of ``template``; raises RouteTemplateError where the Azure host would reject it."""
    return _Parser(template).parse()
