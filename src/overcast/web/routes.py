"""HTTP routing as the Azure Functions host does it: templates, first-match router, reserved and clashing routes.

A template (parsed by ``route_template``) is compiled to one regular expression over the request path, plus a
port of ASP.NET's right-to-left complex-segment matcher (``{file}.{ext}``) and its inline constraint checks.

Request paths are raw (percent-encoded). A path containing ``%`` is first *normalised*: split on ``/``, each
segment percent-decoded (invalid escapes kept, invalid UTF-8 replaced), then ``%`` and ``/`` re-escaped as
``%25`` and ``%2F``. The regex runs on that text, so literals compare with decoded text while an encoded
slash stays inside its segment; the captured values are then unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from overcast.web.route_template import Literal, Parameter, Part, fold, parse_segments

__all__ = ["RouteTemplate", "Router", "build_template", "is_reserved_route", "routes_conflict"]

# -------------------------------------------------------------------------------------------- complex segments


def _match_complex(parts: tuple[Part, ...], segment: str) -> dict[str, str] | None:
    """``RoutePatternMatcher.MatchComplexSegment``: a trailing ``.{x?}`` may be absent."""
    last = len(parts) - 1
    tail = parts[last]
    if isinstance(tail, Parameter) and tail.optional:
        values = _match_complex_core(parts, segment, last)
        if values is not None:
            return values
        separator = parts[last - 1]
        if isinstance(separator, Literal) and fold(segment).endswith(separator.folded):
            return None
        return _match_complex_core(parts, segment, last - 2)
    return _match_complex_core(parts, segment, last)


def _match_complex_core(parts: tuple[Part, ...], segment: str, index: int) -> dict[str, str] | None:
    """Right to left: each literal is its last occurrence that leaves a character for the parameter after it."""
    folded = fold(segment)
    last_index = len(segment)
    pending: Parameter | None = None
    last_literal: Literal | None = None
    values: dict[str, str] = {}
    while index >= 0:
        new_last_index = last_index
        part = parts[index]
        if isinstance(part, Parameter):
            pending = part
        else:
            last_literal = part
            start = last_index - 1 if pending is not None else last_index
            if start <= 0:
                return None
            found = folded.rfind(part.folded, 0, start)
            if found == -1:
                return None
            if index == len(parts) - 1 and found + len(part.text) != len(segment):
                return None
            new_last_index = found
        if pending is not None and ((last_literal is not None and isinstance(part, Literal)) or index == 0):
            if last_literal is None or (index == 0 and isinstance(part, Parameter)):
                value = segment[:last_index]
            else:
                value = segment[new_last_index + len(last_literal.text) : last_index]
            if not value:
                return None
            values[pending.name] = value
            pending = last_literal = None
        last_index = new_last_index
        index -= 1
    return values if last_index == 0 or isinstance(parts[0], Parameter) else None


# ------------------------------------------------------------------------------------------------ templates


def _normalize(path: str) -> str:
    """Decode each segment, then re-escape only '%' and '/' (see the module docstring)."""
    return "/".join(
        unquote(s, errors="replace").replace("%", "%25").replace("/", "%2F") if "%" in s else s for s in path.split("/")
    )


def _unescape(value: str) -> str:
    return value.replace("%2F", "/").replace("%25", "%") if "%" in value else value


def _prepare_path(path: str) -> tuple[str, bool, str | None]:
    """(text the regexes run on, whether it was normalised, key for literal-only templates or None)."""
    if "%" in path:
        return _normalize(path), True, None
    if not path.isascii():
        return path, False, None
    return path, False, (path[:-1] if path.endswith("/") else path).lower()


@dataclass(frozen=True, slots=True)
class _Capture:
    """One regex group: a simple parameter, or a whole complex segment (``parts``) to split afterwards."""

    parameter: Parameter | None
    parts: tuple[Part, ...]


def _omittable(segment: tuple[Part, ...]) -> bool:
    part = segment[0]
    return (
        len(segment) == 1
        and isinstance(part, Parameter)
        and (part.catch_all or part.optional or part.default is not None)
    )


class RouteTemplate:
    """A parsed template: ``RouteTemplate.parse("api/items/{id:int}").match("/api/items/7")`` is ``{"id": "7"}``."""

    __slots__ = (
        "_captures",
        "_constrained",
        "_defaults",
        "_literal_key",
        "_names",
        "_plain",
        "_prefix",
        "_prefix_slash",
        "_regex",
        "parameters",
        "raw",
    )

    raw: str
    parameters: tuple[str, ...]

    def __init__(self, raw: str, segments: list[tuple[Part, ...]]) -> None:
        self.raw = raw
        params = [p for segment in segments for p in segment if isinstance(p, Parameter)]
        self.parameters = tuple(p.name for p in params)
        self._defaults = tuple((p.name, p.default) for p in params if p.default is not None)
        self._constrained = tuple(p for p in params if p.constraints)
        pieces: list[str] = []
        captures: list[_Capture] = []
        for segment in segments:
            part = segment[0]
            if len(segment) > 1:
                captures.append(_Capture(None, segment))
                pieces.append("/([^/]+)")
            elif isinstance(part, Literal):
                pieces.append("/" + re.escape(part.text.replace("%", "%25")))
            else:
                captures.append(_Capture(part, segment))
                pieces.append("/([^/].*)" if part.catch_all else "/([^/]+)")
        required = len(segments)
        while required > 0 and _omittable(segments[required - 1]):
            required -= 1
        tail = ""
        for piece in reversed(pieces[required:]):
            tail = f"(?:{piece}{tail})?"
        self._regex = re.compile(r"\A" + "".join(pieces[:required]) + tail + r"/?\Z", re.IGNORECASE | re.DOTALL)
        self._captures = tuple(captures)
        self._names = tuple(c.parameter.name if c.parameter else "" for c in captures)
        self._plain = not self._defaults and not self._constrained and all(c.parameter for c in captures)
        literals = [s[0].text for s in segments if len(s) == 1 and isinstance(s[0], Literal)]
        all_literal = len(literals) == len(segments) and all(t.isascii() for t in literals)
        self._literal_key = "".join("/" + t.replace("%", "%25").lower() for t in literals) if all_literal else None
        prefix = ""
        for segment in segments:
            if len(segment) > 1 or not isinstance(segment[0], Literal) or not segment[0].text.isascii():
                break
            prefix += "/" + segment[0].text.replace("%", "%25").lower()
        self._prefix, self._prefix_slash = prefix, prefix + "/"

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        """Parse ``template`` (no leading '/'); raises RouteTemplateError as the Azure host would reject it."""
        return cls(template, parse_segments(template))

    def __repr__(self) -> str:
        return f"RouteTemplate({self.raw!r})"

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for a raw request path such as ``/api/items/7`` (``None``: no match). Never raises."""
        return self.match_prepared(*_prepare_path(path))

    def match_prepared(self, subject: str, encoded: bool, literal_key: str | None) -> dict[str, str] | None:
        """``match`` on the result of ``_prepare_path`` (the router prepares a path once for all templates)."""
        if literal_key is not None:
            if self._literal_key is not None:
                return {} if literal_key == self._literal_key else None
            prefix = self._prefix  # cheap rejection on the leading literal segments
            if prefix and literal_key != prefix and not literal_key.startswith(self._prefix_slash):
                return None
        found = self._regex.match(subject)
        if found is None:
            return None
        if self._plain:
            values: dict[str, str] = {}
            for name, raw in zip(self._names, found.groups(), strict=False):
                if raw is not None:
                    values[name] = _unescape(raw) if encoded else raw
            return values
        return self._complete(found.groups(), encoded)

    def _complete(self, groups: tuple[str | None, ...], encoded: bool) -> dict[str, str] | None:
        """Values from complex segments and defaults, then the constraint checks."""
        values: dict[str, str] = {}
        for capture, raw in zip(self._captures, groups, strict=False):
            if raw is None:
                continue
            value = _unescape(raw) if encoded else raw
            if capture.parameter is not None:
                values[capture.parameter.name] = value
                continue
            sub = _match_complex(capture.parts, value)
            if sub is None:
                return None
            values.update(sub)
        for name, default in self._defaults:
            if name not in values:
                values[name] = default
        for param in self._constrained:
            current = values.get(param.name)
            for constraint in param.constraints:
                if current is None:
                    if not param.optional and not constraint.absent_ok:
                        return None
                elif not constraint.check(current):
                    return None
        return values


# --------------------------------------------------------------------------------------------------- router

T = TypeVar("T")


class Router(Generic[T]):
    """Ordered (template, methods, target) entries; the first entry matching both path and method wins.

    ``methods`` None means every method. A method mismatch falls through to later entries (no 405).
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Sequence[tuple[RouteTemplate, frozenset[str] | None, T]]) -> None:
        self._entries: tuple[tuple[RouteTemplate, frozenset[str] | None, T], ...] = tuple(
            (template, None if methods is None else frozenset(m.upper() for m in methods), target)
            for template, methods, target in entries
        )

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        """(target, route values) for a method and a raw request path such as ``/api/items/42``. Never raises."""
        method = method.upper()
        prepared: tuple[str, bool, str | None] | None = None
        for template, methods, target in self._entries:
            if methods is not None and method not in methods:
                continue
            if prepared is None:
                prepared = _prepare_path(path)
            values = template.match_prepared(*prepared)
            if values is not None:
                return target, values
        return None


def build_template(route_prefix: str, route: str) -> str:
    """The host's full template: ``prefix/route``, or the route minus one leading '/' when the prefix is empty.

    A route starting with '/' under a prefix gives ``api//...``, which ``RouteTemplate.parse`` rejects (as Azure).
    """
    prefix = route_prefix.strip("/")
    if prefix:
        return f"{prefix}/{route}"
    return route[1:] if route.startswith("/") else route


def is_reserved_route(route: str) -> bool:
    """Azure refuses routes that *start with* "admin" or "runtime" (so "administrators" too), ignoring case."""
    return route.strip("/").lower().startswith(("admin", "runtime"))


def routes_conflict(a: str, b: str, methods_a: frozenset[str] | None, methods_b: frozenset[str] | None) -> bool:
    """Same route text (ignoring case and outer '/') with at least one method in common (None = all methods)."""
    if a.strip("/").lower() != b.strip("/").lower():
        return False
    if methods_a is None or methods_b is None:
        other = methods_b if methods_a is None else methods_a
        return other is None or bool(other)
    return not {m.upper() for m in methods_a}.isdisjoint(m.upper() for m in methods_b)
