"""The ASP.NET Core route template language, as the Azure Functions host parses it.

A port of ``RoutePatternParser``/``RouteParameterParser`` (same error cases, same quirks: for example ``{:x}``
is a parameter named ":x") and of the built-in inline constraints (``int``, ``min(1)``, ``regex(...)``...).
Matching lives in ``routes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from overcast.errors import BadConstraint, RouteTemplateError
from overcast.web.route_constraints import Constraint, resolve_constraint

__all__ = ["Constraint", "Literal", "Parameter", "Part", "fold", "parse_segments"]

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
            constraints = tuple(resolve_constraint(text) for text in constraint_texts)
        except BadConstraint as exc:
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
