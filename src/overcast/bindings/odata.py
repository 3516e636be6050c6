"""The Azure Table OData ``$filter`` subset (table input binding ``filter``), compiled to a Python predicate.

Grammar (a recursive-descent parser; nothing is ``eval``-ed)::

    filter     := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | comparison
    comparison := operand ("eq" | "ne" | "gt" | "ge" | "lt" | "le") operand     (one property, one literal)
    operand    := property | 'string' | 123 | 123L | 1.5 | true | false | datetime'…' | guid'…' | X'0a1b'

Semantics follow the Table service: property names and string comparisons are case-sensitive (ordinal);
a comparison is false when the entity lacks the property or holds a value of another type (numbers compare
across Int32/Int64/Double); ``not`` negates whatever its operand yields. Entities are mappings of plain
Python values (str, bool, int, float, datetime, uuid.UUID, bytes); a naive datetime is taken as UTC.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, NoReturn

from overcast.errors import ConfigError

__all__ = ["Predicate", "compile_filter"]

Predicate = Callable[[Mapping[str, Any]], bool]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}  # fmt: skip
# Mirrored operators for "literal op property".
_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_KEYWORDS = frozenset({"and", "or", "not", "true", "false", *_COMPARISONS})
_MAX_DEPTH = 100
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<typed>(?:datetime|guid|X|binary|time|datetimeoffset)'(?:[^']|'')*')
    | (?P<number>[-+]?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)[dDfFmM]?|[-+]?\d+[lL]?)(?![\w.])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<paren>[()])
    """,
    re.VERBOSE,
)


class _Token:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind, self.text, self.pos = kind, text, pos


class _Property:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def compile_filter(text: str) -> Predicate:
    """A predicate over entities for an OData filter; ``ConfigError`` (with the 0-based position) if invalid."""
    parser = _Parser(text)
    predicate = parser.parse_or()
    if parser.peek() is not None:
        parser.fail(parser.peek())
    return predicate


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.i = 0
        self.depth = 0

    def _tokenize(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if text[pos] == "'":
                    self.error(f"the string starting at position {pos} has no closing quote")
                self.error(f"unexpected '{text[pos]}' at position {pos}")
            assert m.lastgroup is not None
            if m.lastgroup != "space":
                tokens.append(_Token(m.lastgroup, m.group(), pos))
            pos = m.end()
        return tokens

    def error(self, what: str) -> NoReturn:
        raise ConfigError(f"Invalid table filter '{self.text}': {what}.")

    def fail(self, token: _Token | None, expected: str = "") -> NoReturn:
        suffix = f"; expected {expected}" if expected else ""
        if token is None:
            self.error(f"unexpected end of filter{suffix}")
        self.error(f"unexpected '{token.text}' at position {token.pos}{suffix}")

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token | None:
        token = self.peek()
        self.i += token is not None
        return token

    def at(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind in ("name", "paren") and token.text == word

    # --------------------------------------------------------------------------------------------- grammar

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.at("or"):
            self.take()
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda entity: any(p(entity) for p in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.at("and"):
            self.take()
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda entity: all(p(entity) for p in parts)

    def parse_unary(self) -> Predicate:
        # Filters may embed request data through {expressions}: deep nesting must fail cleanly, not recurse away.
        token = self.peek()
        if token is not None and self.depth >= _MAX_DEPTH:
            self.error(f"nesting deeper than {_MAX_DEPTH} levels at position {token.pos}")
        self.depth += 1
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Predicate:
        if self.at("not"):
            self.take()
            inner = self.parse_unary()
            return lambda entity: not inner(entity)
        if self.at("("):
            self.take()
            inner = self.parse_or()
            if not self.at(")"):
                self.fail(self.peek(), "')'")
            self.take()
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        start = self.peek()
        left = self.parse_operand()
        op_token = self.take()
        if op_token is None or op_token.kind != "name" or op_token.text not in _COMPARISONS:
            self.fail(op_token, "a comparison operator (eq, ne, gt, ge, lt, le)")
        right = self.parse_operand()
        op = op_token.text
        if isinstance(left, _Property) == isinstance(right, _Property):
            assert start is not None
            what = "two properties" if isinstance(left, _Property) else "two values"
            self.error(f"the comparison at position {start.pos} compares {what}; compare a property with a value")
        if isinstance(right, _Property):
            left, right, op = right, left, _MIRROR[op]
        assert isinstance(left, _Property)
        return _comparison(left.name, _COMPARISONS[op], right)

    def parse_operand(self) -> Any:
        token = self.take()
        if token is None or token.kind == "paren":
            self.fail(token, "a property name or a value")
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            return self._number(token)
        if token.kind == "typed":
            return self._typed(token)
        if token.text in ("true", "false"):
            return token.text == "true"
        if token.text in _KEYWORDS:
            self.fail(token, "a property name or a value")
        return _Property(token.text)

    def _number(self, token: _Token) -> int | float:
        text = token.text
        if text[-1] in "lL":
            kind, bounds, text = "Edm.Int64", _INT64, text[:-1]
        elif re.fullmatch(r"[-+]?\d+", text):
            kind, bounds = "Edm.Int32", _INT32
        else:
            return float(text.rstrip("dDfFmM"))
        value = int(text)
        if not bounds[0] <= value <= bounds[1]:
            hint = "; append L for an Int64 value" if kind == "Edm.Int32" else ""
            self.error(f"the {kind} literal '{token.text}' at position {token.pos} is out of range{hint}")
        return value

    def _typed(self, token: _Token) -> Any:
        prefix, _, quoted = token.text.partition("'")
        body = quoted[:-1].replace("''", "'")
        try:
            if prefix == "datetime":
                parsed = datetime.fromisoformat(_iso(body))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
            if prefix == "guid":
                return uuid.UUID(body)
            if prefix in ("X", "binary"):
                return bytes.fromhex(body)
        except ValueError:
            self.error(f"'{token.text}' at position {token.pos} is not a valid {prefix} literal")
        self.error(f"{prefix} literals ('{token.text}' at position {token.pos}) are not supported")


def _iso(text: str) -> str:
    """An OData datetime literal in a form ``datetime.fromisoformat`` takes on Python 3.10 (≤ 6 fraction digits)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,7}))?(Z|[+-]\d\d:\d\d)?", text.strip())
    if m is None:
        raise ValueError(text)
    fraction = f".{m[2][:6].ljust(6, '0')}" if m[2] else ""
    zone = "+00:00" if m[3] == "Z" else (m[3] or "")
    return m[1] + fraction + zone


def _same_type(value: Any, literal: Any) -> bool:
    """Whether the Table service would compare ``value`` with ``literal`` (no cross-type conversions)."""
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(literal, bool) and isinstance(value, bool)
    if isinstance(literal, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(literal))


def _comparison(name: str, compare: Callable[[Any, Any], bool], literal: Any) -> Predicate:
    def predicate(entity: Mapping[str, Any]) -> bool:
        value = entity.get(name)
        if value is None or not _same_type(value, literal):
            return False
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return compare(value, literal)

    return predicate
