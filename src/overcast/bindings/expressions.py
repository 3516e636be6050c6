"""Binding expressions (spec §7): ``%app settings%`` and ``{binding data}`` templates, and blob path patterns (§6.2).

Ported from the WebJobs SDK's ``NameResolverExtensions``, ``BindingTemplateParser``/``BindingTemplateToken``,
``BindingDataPathHelper``, the storage extension's ``BlobPathSource`` and the host's ``Utility.ApplyBindingData``;
the values' .NET string forms (DateTime/Guid/double formatting) live at the end of this module.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from overcast.bindings.dotnet_format import dotnet_datetime, dotnet_double, dotnet_guid
from overcast.config import json_text
from overcast.config.app_settings import resolve_app_settings
from overcast.errors import BindingDataError, ConfigError, InputError

__all__ = [
    "BindingDataError",
    "BindingTemplate",
    "BlobPathPattern",
    "binding_data_from_json_body",
    "dotnet_datetime",
    "dotnet_double",
    "dotnet_guid",
    "merge_binding_data",
    "resolve_app_settings",
]


# ------------------------------------------------------------------------------------------- %app settings%


# ---------------------------------------------------------------------------------------- {binding} templates

# Same alternatives, in the same order, as the SDK's BindingTemplateParser.TokenRule.
_TOKEN = re.compile(r"(?P<escape>\{\{|\}\})|\{(?P<parameter>[^{}]*)\}|(?P<literal>[^{}]+)|(?P<unbalanced>[{}])")
_LETTERS = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_PART = _LETTERS | {"Nd", "Pc", "Mn", "Mc", "Cf"}
# The SDK's two built-ins are recognised by *prefix* (case-insensitive), so ``{DateTimeX}`` is also "now".
_BUILTINS = ("rand-guid", "datetime")


def _is_identifier(text: str) -> bool:
    """The SDK's C#-identifier test, which also lets '.' and '-' through after the first character."""
    if not text or not (text[0] == "_" or unicodedata.category(text[0]) in _LETTERS):
        return False
    return all(c in ".-" or unicodedata.category(c) in _PART for c in text[1:])


@dataclass(frozen=True)
class _Expr:
    text: str
    parts: tuple[str, ...]
    format: str | None
    builtin: str | None


def _expression(text: str, template: str) -> _Expr:
    builtin = next((b for b in _BUILTINS if text.casefold().startswith(b)), None)
    expr, fmt = text, None
    if builtin is None and (colon := text.find(":")) > 0:
        expr, fmt = text[:colon], text[colon + 1 :]
    if builtin is None and not _is_identifier(expr):
        raise ConfigError(f"Invalid template '{template}'. Invalid template expression '{expr}'.")
    parts = tuple(expr.split("."))
    if builtin is None and "-" in parts[0]:
        raise ConfigError(f"Invalid template '{template}'. The parameter name '{parts[0]}' is invalid.")
    if any(not part.strip() for part in parts):
        raise ConfigError(f"Invalid template '{template}'. The expression '{expr}' has an empty part.")
    return _Expr(text, parts, fmt, builtin)


def _tokens(template: str) -> list[str | _Expr]:
    tokens: list[str | _Expr] = []
    for m in _TOKEN.finditer(template):
        pos = m.start() + 1
        if m["escape"] is not None:
            tokens.append(m["escape"][0])
        elif m["literal"] is not None:
            tokens.append(m["literal"])
        elif m["unbalanced"] is not None:
            side = "closing" if m["unbalanced"] == "{" else "opening"
            raise ConfigError(f"Invalid template '{template}'. Missing {side} bracket at position {pos}.")
        elif not m["parameter"]:
            raise ConfigError(f"Invalid template '{template}'. The parameter name at position {pos} is empty.")
        else:
            tokens.append(_expression(m["parameter"], template))
    return tokens


class _System:
    """Stands for the SDK's ``sys`` object (``{sys.UtcNow}``, ``{sys.RandGuid}``, ``{sys.MethodName}``)."""


_SYS = _System()


class BindingTemplate:
    """A parsed ``{expression}`` template, bound per invocation against case-insensitive binding data."""

    def __init__(self, pattern: str, tokens: list[str | _Expr]) -> None:
        self.pattern = pattern
        self._tokens = tokens

    @classmethod
    def parse(cls, text: str) -> BindingTemplate:
        return cls(text, _tokens(text))

    @property
    def parameters(self) -> tuple[str, ...]:
        """The first name of each expression (``a`` for ``{a.b:fmt}``), in order, without repeats."""
        names = (t.parts[0].split(":")[0] for t in self._tokens if isinstance(t, _Expr))
        return tuple(dict.fromkeys(names))

    def bind(self, data: Mapping[str, Any], *, now: datetime | None = None, method_name: str | None = None) -> str:
        """The template's text for this invocation; ``now`` fixes ``{DateTime}``/``{sys.UtcNow}`` (default: UTC now)."""
        if now is None:
            now = datetime.now(timezone.utc)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        ctx = (now.astimezone(timezone.utc), method_name)
        return "".join(t if isinstance(t, str) else _evaluate(t, data, ctx) for t in self._tokens)

    def __repr__(self) -> str:
        return f"BindingTemplate({self.pattern!r})"


def _lookup(data: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    if name in data:
        return True, data[name]
    folded = name.casefold()
    for key, value in data.items():
        if key.casefold() == folded:
            return True, value
    return False, None


def _property(current: Any, name: str, ctx: tuple[datetime, str | None]) -> Any:
    if isinstance(current, _System):
        key = name.casefold()
        value = uuid.uuid4() if key == "randguid" else {"utcnow": ctx[0], "methodname": ctx[1]}.get(key)
        if value is not None:
            return value
    elif isinstance(current, Mapping):
        found, value = _lookup(current, name)
        if found:
            return value
    raise BindingDataError(f"Error while accessing '{name}': property doesn't exist.")


def _evaluate(expr: _Expr, data: Mapping[str, Any], ctx: tuple[datetime, str | None]) -> str:
    head = expr.parts[0]
    found, current = _lookup(data, head)
    if not found and head.casefold() == "sys":  # user data named 'sys' hides the system object, as in the SDK
        found, current = True, _SYS
    if found:
        for part in expr.parts[1:]:
            current = _property(current, part, ctx)
        return _to_string(current, expr.format, expr.text)
    if expr.builtin is not None:
        # The SDK hands the resolver only the first dotted part, so '{DateTime:yyyy.MM}' formats with 'yyyy'.
        rest = head[len(expr.builtin) :]
        fmt = rest[1:] if rest.startswith(":") else None
        value: Any = uuid.uuid4() if expr.builtin == "rand-guid" else ctx[0]
        return _to_string(value, fmt, expr.text)
    raise BindingDataError(f"No value for named parameter '{head}'.")


def _to_string(value: Any, fmt: str | None, expression: str) -> str:
    """BindingDataPathHelper.ConvertParameterValueToString; a format applies only to DateTime and Guid values."""
    if fmt is not None and not fmt.strip():
        fmt = None
    if value is None:
        return ""  # the SDK appends null (JSON null, absent optional metadata) as nothing
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return dotnet_double(value)
    try:
        if isinstance(value, datetime):
            return dotnet_datetime(value, fmt or "yyyy-MM-ddTHH-mm-ssK")
        if isinstance(value, uuid.UUID):
            return dotnet_guid(value, fmt or "D")
    except ValueError:
        raise BindingDataError(f"Invalid format '{fmt}' in binding expression '{{{expression}}}'.") from None
    if isinstance(value, Mapping):
        kind = "a JSON object"
    elif isinstance(value, (list, tuple)):
        kind = "a JSON array"
    else:
        kind = f"a value of type {type(value).__name__}"
    raise BindingDataError(
        f"Binding expression '{{{expression}}}' refers to {kind}; "
        "only text, numbers, booleans, dates and GUIDs can be used in a binding expression."
    )


# ---------------------------------------------------------------------------------------- JSON → binding data

# Newtonsoft's JObject.Parse turns ISO-looking strings into DateTime values (DateParseHandling.DateTime).
_JSON_DATE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?(?:[Zz]|([+-])(\d\d)(?::?(\d\d))?)?"
)


def _newtonsoft_string(value: Any) -> str:
    """``(string)JToken`` of a top-level JSON scalar, as ``Utility.ApplyBindingData`` stores it."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return dotnet_double(value)
    if not isinstance(value, str):
        return str(value)
    m = _JSON_DATE.fullmatch(value) if 19 <= len(value) <= 40 else None
    if m is None:
        return value
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
        parsed = datetime(y, mo, d, h, mi, sec, int((m[7] or "0").ljust(6, "0")[:6]))
    except ValueError:
        return value  # not a real date: Newtonsoft keeps the string
    if m[8]:
        # RoundtripKind: an offset makes the value the host's local time, which is UTC on Azure.
        parsed -= (1 if m[8] == "+" else -1) * timedelta(hours=int(m[9]), minutes=int(m[10] or 0))
    # **[QUIRK]** (string) of that DateTime is its invariant "G" form: '2024-01-31T10:00:00Z' → '01/31/2024 10:00:00'.
    return dotnet_datetime(parsed, "G")


def binding_data_from_json_body(text: str, what: str = "The trigger value") -> dict[str, Any]:
    """Top-level properties of a JSON object trigger value: objects kept (for ``{data.url}``), scalars as
    the host's strings, arrays and nulls dropped. Anything else (not JSON, not an object) adds nothing.

    Raises :class:`InputError` for an object nested too deeply to read: the caller refuses that input."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return {}
    try:
        parsed = json_text.loads(stripped, what)
    except InputError:
        raise
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {
        key: value if isinstance(value, dict) else _newtonsoft_string(value)
        for key, value in parsed.items()
        if value is not None and not isinstance(value, list)
    }


def merge_binding_data(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied case-insensitively (the host's binding data dictionary ignores case,
    and JSON body properties overwrite trigger metadata: a message ``{"id": "x"}`` makes ``{Id}`` = ``x``)."""
    folded = {key.casefold() for key in overrides}
    merged = {key: value for key, value in base.items() if key.casefold() not in folded}
    merged.update(overrides)
    return merged


# ------------------------------------------------------------------------------------------- blob paths (§6.2)


class BlobPathPattern:
    """A blob trigger ``path``: a literal container, then a blob name pattern whose ``{x}`` capture anything."""

    def __init__(self, pattern: str, container: str, blob: str, regex: re.Pattern[str] | None, names: list[str]):
        self.pattern = pattern
        self.container = container
        self.blob_pattern = blob
        self._regex = regex
        self._names = names

    @classmethod
    def parse(cls, pattern: str) -> BlobPathPattern:
        container, slash, blob = pattern.partition("/")
        if (slash and (not container or not blob)) or "\\" in container:
            raise ConfigError(f"Invalid blob trigger path '{pattern}'. Paths must be in the format 'container/blob'.")
        if "{" in container:
            raise ConfigError(
                f"Invalid blob trigger path '{pattern}'. Container paths cannot contain {{resolve}} tokens."
            )
        regex: list[str] = []
        names: list[str] = []
        for token in _tokens(pattern):
            if isinstance(token, str):
                regex.append(re.escape(token))
                continue
            if not re.fullmatch(r"\w+", token.text):  # no paths, formats or built-ins: .NET group names
                raise ConfigError(f"Invalid blob trigger path '{pattern}'. '{{{token.text}}}' cannot capture a value.")
            # .NET allows a name twice (the last capture wins); Python does not, so groups are numbered.
            regex.append(f"(?P<g{len(names)}>.*)")
            names.append(token.text)
        compiled = re.compile("^" + "".join(regex) + "$") if names else None
        return cls(pattern, container, blob, compiled, names)

    def match(self, container: str, blob_name: str) -> dict[str, str] | None:
        """The captures when ``container/blob_name`` matches (``{}`` without captures), else None."""
        if container != self.container:  # the SDK's capture regex is case-sensitive, container included
            return None
        if self._regex is None:
            # As FixedBlobPathSource: ordinal comparison against the raw pattern (so '{{' is not unescaped here).
            return {} if not self.blob_pattern or blob_name == self.blob_pattern else None
        m = self._regex.match(f"{container}/{blob_name}")
        return None if m is None else {name: m[f"g{i}"] for i, name in enumerate(self._names)}

    def __repr__(self) -> str:
        return f"BlobPathPattern({self.pattern!r})"
