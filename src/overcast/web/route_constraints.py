"""The inline route constraints of ASP.NET Core (``int``, ``min(1)``, ``regex(...)``, ...), as the Azure Functions
host applies them: each constraint text resolves to a check over the decoded route value.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from overcast.errors import BadConstraint

__all__ = ["BadConstraint", "Check", "Constraint", "resolve_constraint"]

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
        raise BadConstraint(f"it needs {' or '.join(map(str, counts))} argument(s) in parentheses")
    items = args.split(",") if split else [args]
    if len(items) not in counts:
        raise BadConstraint(f"it takes {' or '.join(map(str, counts))} argument(s), not {len(items)}")
    values: list[int] = []
    for item in items:
        value = _parse_int(item, bounds)
        if value is None:
            bits = 32 if bounds == _INT32 else 64
            raise BadConstraint(f"the argument {item.strip()!r} is not a {bits}-bit integer")
        values.append(value)
    return values


def _no_args(check: Check) -> Callable[[str | None], Check]:
    def factory(args: str | None) -> Check:
        if args is not None:
            raise BadConstraint("it takes no arguments")
        return check

    return factory


def _min_max_length(at_least: bool) -> Callable[[str | None], Check]:
    def factory(args: str | None) -> Check:
        (n,) = _numbers(args, (1,), _INT32, split=False)
        if n < 0:
            raise BadConstraint("the length must be 0 or more")
        return (lambda v: _length(v) >= n) if at_least else (lambda v: _length(v) <= n)

    return factory


def _length_factory(args: str | None) -> Check:
    values = _numbers(args, (1, 2), _INT32, split=True)
    low, high = (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
    if low < 0 or high < low:
        raise BadConstraint("the lengths must be 0 or more, the minimum not above the maximum")
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
        raise BadConstraint("the minimum must not be above the maximum")
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
        raise BadConstraint("it needs a regular expression in parentheses")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(_translate_regex(args), re.IGNORECASE)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise BadConstraint(f"{args!r} is not a valid regular expression ({exc})") from None
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


def resolve_constraint(text: str) -> Constraint:
    """``DefaultInlineConstraintResolver``: ``name`` or ``name(args)``; names are case-insensitive."""
    paren = text.find("(")
    if paren >= 0 and text.endswith(")"):
        key, args = text[:paren], text[paren + 1 : -1]
    else:
        key, args = text, None
    factory = _FACTORIES.get(key.lower())
    if factory is None:
        raise BadConstraint(f"the constraint {key!r} is unknown (known: {', '.join(sorted(_FACTORIES))})")
    try:
        check = factory(args)
    except BadConstraint as exc:
        raise BadConstraint(f"the constraint {text!r} is invalid: {exc}") from None
    return Constraint(text, check, key.lower() == "nonfile")
