"""Service Bus subscription rules: SQL filters, correlation filters and SQL rule actions (pure, no I/O).

The SQL subset is the broker's: comparison (``= <> != > >= < <=``), ``AND`` / ``OR`` / ``NOT``, ``IN``,
``LIKE`` (``%``, ``_``, ``ESCAPE``), ``IS [NOT] NULL``, ``EXISTS(prop)``, arithmetic (``+ - * / %``), over system
properties (``sys.Label``) and user properties (``user.color`` or plain ``color``), with SQL's three-valued logic:
a missing property is NULL, and anything compared with NULL is unknown, which does not match. Rule actions are
``SET prop = expr`` and ``REMOVE prop``, separated by ``;``.

A message as rules see it is two mappings: its system properties by their ``sys.`` names and its application
properties. Routing follows the broker (docs "Topic filters and actions"): rules without an action are OR'ed and
give one copy; each matching rule with an action gives its own copy, with ``RuleName`` set to the rule's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from overcast.errors import ConfigError

Props = Mapping[str, Any]
Evaluator = Callable[[Props, Props], Any]
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?|(?P<string>'(?:[^']|'')*')"
    r"|(?P<ident>\[[^\]]+\]|[A-Za-z_$][\w$]*(?:\.(?:\[[^\]]+\]|[A-Za-z_$][\w$]*))?)"
    r"|(?P<op><>|!=|>=|<=|[=<>()+\-*/%,;]))"
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "ESCAPE", "IS", "NULL", "EXISTS", "TRUE", "FALSE", "SET", "REMOVE"}
_MISSING = object()


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, ident, op, kw, end
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConfigError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos + 1}")
        kind = str(match.lastgroup)
        value = match.group(kind)
        if kind == "number":
            value = match.group(0).strip()
        if kind == "ident" and value.upper() in _KEYWORDS:
            found.append(_Token("kw", value.upper(), match.start(kind)))
        else:
            found.append(_Token(kind, value, match.start(kind)))
        pos = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def _property(name: str) -> tuple[str, str]:
    """(scope, name): ``sys.X`` → system, ``user.X`` / ``X`` → application; brackets removed."""
    scope, dot, rest = name.partition(".")
    if dot and scope.lower() in ("sys", "user"):
        return scope.lower(), rest.strip("[]")
    return "user", name.strip("[]")


def _lookup(scope: str, name: str) -> Callable[[Props, Props], Any]:
    if scope == "sys":
        lowered = name.lower()

        def system(sys: Props, user: Props) -> Any:
            for key, value in sys.items():
                if key.lower() == lowered:
                    return value
            return _MISSING
        return system
    return lambda sys, user: user.get(name, _MISSING)


def _value(raw: Any) -> Any:
    return None if raw is _MISSING else raw


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if _number(left) != _number(right) or (isinstance(left, bool) != isinstance(right, bool)):
        return None  # the broker does not compare a string with a number: unknown, never a match
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    except TypeError:
        return None


def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _arith(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (_number(left) and _number(right)):
        return None
    if op in ("/", "%") and right == 0:
        return None
    if op == "/":
        return left // right if isinstance(left, int) and isinstance(right, int) else left / right
    return {"+": left + right, "-": left - right, "*": left * right, "%": left % right}[op]


def _binary(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    return lambda s, u: _arith(op, left(s, u), right(s, u))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        token = self.peek
        if token.kind == kind and token.text == text:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str) -> None:
        if not self.accept(kind, text):
            self.fail(f"expected {text!r}")

    def fail(self, what: str) -> None:
        token = self.peek
        near = f"near {token.text!r}" if token.kind != "end" else "at the end"
        raise ConfigError(f"{what} {near} (position {token.pos + 1})")

    def condition(self) -> Evaluator:
        return self._or()

    def _or(self) -> Evaluator:
        left = self._and()
        while self.accept("kw", "OR"):
            right, prev = self._and(), left

            def either(s: Props, u: Props, a: Evaluator = prev, b: Evaluator = right) -> Any:
                x, y = a(s, u), b(s, u)
                if x is True or y is True:
                    return True
                return None if x is None or y is None else False
            left = either
        return left

    def _and(self) -> Evaluator:
        left = self._not()
        while self.accept("kw", "AND"):
            right, prev = self._not(), left

            def both(s: Props, u: Props, a: Evaluator = prev, b: Evaluator = right) -> Any:
                x, y = a(s, u), b(s, u)
                if x is False or y is False:
                    return False
                return None if x is None or y is None else True
            left = both
        return left

    def _not(self) -> Evaluator:
        if self.accept("kw", "NOT"):
            inner = self._not()
            return lambda s, u: None if (v := inner(s, u)) is None else not v
        return self._predicate()

    def _predicate(self) -> Evaluator:
        if self.accept("kw", "EXISTS"):
            self.expect("op", "(")
            token = self.take()
            if token.kind != "ident":
                self.i -= 1
                self.fail("EXISTS needs a property name")
            self.expect("op", ")")
            get = _lookup(*_property(token.text))
            return lambda s, u: get(s, u) is not _MISSING
        left = self._additive()
        token = self.peek
        if token.kind == "op" and token.text in ("=", "<>", "!=", ">", ">=", "<", "<="):
            self.take()
            right = self._additive()
            return lambda s, u: _compare(token.text, left(s, u), right(s, u))
        negate = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.expect("op", "(")
            items = [self._additive()]
            while self.accept("op", ","):
                items.append(self._additive())
            self.expect("op", ")")

            def within(s: Props, u: Props) -> Any:
                value = left(s, u)
                if value is None:
                    return None
                hit = any(_compare("=", value, item(s, u)) for item in items)
                return hit != negate
            return within
        if self.accept("kw", "LIKE"):
            pattern = self._string("LIKE needs a quoted pattern")
            escape = self._string("ESCAPE needs a quoted character") if self.accept("kw", "ESCAPE") else None
            regex = _like_regex(pattern, escape)

            def like(s: Props, u: Props) -> Any:
                value = left(s, u)
                if not isinstance(value, str):
                    return None
                return (regex.fullmatch(value) is not None) != negate
            return like
        if negate:
            self.fail("expected IN or LIKE after NOT")
        if self.accept("kw", "IS"):
            wanted_null = not self.accept("kw", "NOT")
            self.expect("kw", "NULL")
            return lambda s, u: (left(s, u) is None) == wanted_null
        return left  # a bare boolean value (TRUE, a property holding a boolean)

    def _string(self, problem: str) -> str:
        token = self.take()
        if token.kind != "string":
            self.i -= 1
            self.fail(problem)
        return token.text[1:-1].replace("''", "'")

    def _additive(self) -> Evaluator:
        left = self._multiplicative()
        while self.peek.kind == "op" and self.peek.text in ("+", "-"):
            left = _binary(self.take().text, left, self._multiplicative())
        return left

    def _multiplicative(self) -> Evaluator:
        left = self._unary()
        while self.peek.kind == "op" and self.peek.text in ("*", "/", "%"):
            left = _binary(self.take().text, left, self._unary())
        return left

    def _unary(self) -> Evaluator:
        if self.accept("op", "-"):
            inner = self._unary()
            return lambda s, u: -v if _number(v := inner(s, u)) else None
        self.accept("op", "+")
        return self._primary()

    def _primary(self) -> Evaluator:
        token = self.take()
        if token.kind == "number":
            text = token.text
            number: float | int = int(text) if text.isdigit() else float(text)
            return lambda s, u: number
        if token.kind == "string":
            literal = token.text[1:-1].replace("''", "'")
            return lambda s, u: literal
        if token.kind == "kw" and token.text in ("TRUE", "FALSE", "NULL"):
            constant = {"TRUE": True, "FALSE": False, "NULL": None}[token.text]
            return lambda s, u: constant
        if token.kind == "ident":
            get = _lookup(*_property(token.text))
            return lambda s, u: _value(get(s, u))
        if token.kind == "op" and token.text == "(":
            inner = self.condition()
            self.expect("op", ")")
            return inner
        self.i -= 1
        self.fail("expected a value or a property")
        raise AssertionError  # fail() raised

    def end(self) -> None:
        if self.peek.kind != "end":
            self.fail("unexpected text")


def parse_sql_filter(text: str) -> Callable[[Props, Props], bool]:
    """``(system properties, application properties) -> matches``; ConfigError when ``text`` does not parse."""
    if not text.strip():
        raise ConfigError("the SQL filter is empty (use 1=1 to match every message)")
    parser = _Parser(text)
    condition = parser.condition()
    parser.end()
    return lambda sys, user: condition(sys, user) is True


@dataclass(frozen=True)
class _Step:
    scope: str
    name: str
    value: Evaluator | None  # None: REMOVE


def parse_sql_action(text: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """A rule action: ``SET prop = expr`` / ``REMOVE prop`` statements (``;``-separated), applied in place to
    (system, application) property dicts. ConfigError when it does not parse."""
    parser = _Parser(text)
    steps: list[_Step] = []
    while parser.peek.kind != "end":
        if parser.accept("op", ";"):
            continue
        if parser.accept("kw", "SET"):
            target = parser.take()
            if target.kind != "ident":
                parser.i -= 1
                parser.fail("SET needs a property name")
            parser.expect("op", "=")
            steps.append(_Step(*_property(target.text), parser._additive()))
        elif parser.accept("kw", "REMOVE"):
            target = parser.take()
            if target.kind != "ident":
                parser.i -= 1
                parser.fail("REMOVE needs a property name")
            steps.append(_Step(*_property(target.text), None))
        else:
            parser.fail("expected SET or REMOVE")

    def apply(sys: dict[str, Any], user: dict[str, Any]) -> None:
        for step in steps:
            target = sys if step.scope == "sys" else user
            if step.value is None:
                target.pop(step.name, None)
            else:
                target[step.name] = step.value(sys, user)
    return apply


CORRELATION_FIELDS = {  # the emulator config's / SDK's names -> the system property a message carries
    "contenttype": "ContentType", "correlationid": "CorrelationId", "label": "Label", "subject": "Label",
    "messageid": "MessageId", "replyto": "ReplyTo", "replytosessionid": "ReplyToSessionId",
    "sessionid": "SessionId", "to": "To",
}


def correlation_filter(spec: Mapping[str, Any]) -> Callable[[Props, Props], bool]:
    """A correlation filter: every system field named must be equal, and every user property in ``Properties``."""
    system: dict[str, Any] = {}
    user: dict[str, Any] = {}
    for key, value in spec.items():
        if key.lower() == "properties":
            if not isinstance(value, Mapping):
                raise ConfigError("the correlation filter's 'Properties' must be an object")
            user.update(value)
        elif key.lower() in CORRELATION_FIELDS:
            if value is not None:
                system[CORRELATION_FIELDS[key.lower()]] = value
        else:
            raise ConfigError(f"the correlation filter has no field {key!r} (fields: ContentType, CorrelationId, "
                              f"Label, MessageId, ReplyTo, ReplyToSessionId, SessionId, To, Properties)")

    def matches(sys: Props, props: Props) -> bool:
        return all(sys.get(k) == v for k, v in system.items()) and all(
            k in props and props[k] == v for k, v in user.items())
    return matches
