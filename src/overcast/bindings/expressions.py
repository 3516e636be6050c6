"""Binding expressions (spec §7): ``%app settings%`` and ``{binding data}`` templates, and blob path patterns (§6.2).

Ported from the WebJobs SDK's ``NameResolverExtensions``, ``BindingTemplateParser``/``BindingTemplateToken``,
``BindingDataPathHelper``, the storage extension's ``BlobPathSource`` and the host's ``Utility.ApplyBindingData``;
the values' .NET string forms (DateTime/Guid/double formatting) live at the end of this module.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from overcast.errors import ConfigError, OvercastError

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


class BindingDataError(OvercastError):
    """A ``{expression}`` cannot be evaluated against an invocation's binding data; that invocation fails."""


# ------------------------------------------------------------------------------------------- %app settings%


def resolve_app_settings(text: str, environ: Mapping[str, str], *, what: str) -> str:
    """Replace every ``%name%`` by its setting, once, when the function is indexed (not per invocation)."""
    out: list[str] = []
    i = 0
    while (start := text.find("%", i)) >= 0:
        end = text.find("%", start + 1)
        if end < 0:
            # 0-based, as the SDK reports it.
            raise ConfigError(f"{what}: The '%' at position {start} does not have a closing '%'.")
        name = text[start + 1 : end]
        value = _setting(name, environ)
        if value is None:
            raise ConfigError(f"{what}: '%{name}%' does not resolve to a value.")
        out += (text[i:start], value)
        i = end + 1
    out.append(text[i:])
    return "".join(out)


def _setting(name: str, environ: Mapping[str, str]) -> str | None:
    if not name:
        return None
    swapped = "__".join(part.replace("__", ":") for part in name.split(":"))
    for candidate in (name, swapped):
        if candidate in environ:
            return environ[candidate]
    # IConfiguration keys are case-insensitive and treat ':' and '__' alike; exact spellings above win.
    wanted = name.replace(":", "__").casefold()
    matches = sorted(key for key in environ if key.replace(":", "__").casefold() == wanted)
    return environ[matches[0]] if matches else None


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


def binding_data_from_json_body(text: str) -> dict[str, Any]:
    """Top-level properties of a JSON object trigger value: objects kept (for ``{data.url}``), scalars as
    the host's strings, arrays and nulls dropped. Anything else (not JSON, not an object) adds nothing."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return {}
    try:
        parsed = json.loads(stripped)
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


# ------------------------------------------------------------------------------------- .NET string formatting

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Standard (one-letter) DateTime formats of the invariant culture.
_STANDARD = {
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "f": "dddd, dd MMMM yyyy HH:mm", "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm", "G": "MM/dd/yyyy HH:mm:ss", "m": "MMMM dd", "M": "MMMM dd", "t": "HH:mm",
    "T": "HH:mm:ss", "y": "yyyy MMMM", "Y": "yyyy MMMM", "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'", "U": "dddd, dd MMMM yyyy HH:mm:ss",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
}  # fmt: skip


def dotnet_datetime(value: datetime, fmt: str) -> str:
    """``DateTime.ToString(fmt, InvariantCulture)``. Naive = Unspecified kind, UTC = Utc, other offsets = Local.
    Raises ValueError where .NET raises FormatException."""
    if len(fmt) == 1:
        if fmt not in _STANDARD:
            raise ValueError(fmt)
        if fmt in "rRU" and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return _custom(value, _STANDARD[fmt])
    return _custom(value, fmt)


def _custom(value: datetime, fmt: str) -> str:
    out: list[str] = []
    offset = value.utcoffset()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        n = 1
        if ch in "dfFgHhKmMstyz":
            while i + n < len(fmt) and fmt[i + n] == ch:
                n += 1
            if ch == "K":
                n = 1
            out.append(_specifier(value, offset, ch, n, out))
        elif ch in "'\"":
            end = i + 1
            literal: list[str] = []
            while end < len(fmt) and fmt[end] != ch:
                if fmt[end] == "\\" and end + 1 < len(fmt):
                    end += 1
                literal.append(fmt[end])
                end += 1
            if end >= len(fmt):
                raise ValueError(fmt)
            out.append("".join(literal))
            n = end - i + 1
        elif ch in "%\\":
            if i + 1 >= len(fmt) or (ch == "%" and fmt[i + 1] == "%"):
                raise ValueError(fmt)
            out.append(_custom(value, fmt[i + 1]) if ch == "%" else fmt[i + 1])
            n = 2
        else:
            out.append(ch)  # ':' and '/' are the invariant separators, i.e. themselves
        i += n
    return "".join(out)


def _specifier(value: datetime, offset: timedelta | None, ch: str, n: int, out: list[str]) -> str:
    if ch == "d":
        return _DAYS[(value.weekday() + 1) % 7][: 3 if n == 3 else None] if n >= 3 else f"{value.day:0{n}d}"
    if ch == "M":
        return _MONTHS[value.month - 1][: 3 if n == 3 else None] if n >= 3 else f"{value.month:0{n}d}"
    if ch == "y":
        return f"{value.year % 100:0{n}d}" if n <= 2 else f"{value.year:0{n}d}"
    if ch in "Hhms":
        number = {"H": value.hour, "h": value.hour % 12 or 12, "m": value.minute, "s": value.second}[ch]
        return f"{number:0{min(n, 2)}d}"
    if ch in "fF":
        if n > 7:
            raise ValueError(ch * n)
        digits = f"{value.microsecond:06d}0"[:n]
        if ch == "F":
            digits = digits.rstrip("0")
            if not digits and out and out[-1].endswith("."):
                out[-1] = out[-1][:-1]  # .NET drops the '.' before an all-zero 'F' fraction
        return digits
    if ch == "t":
        return ("AM" if value.hour < 12 else "PM")[: 1 if n == 1 else None]
    if ch == "g":
        return "A.D."
    if ch == "K":
        if offset is None:
            return ""
        return "Z" if not offset else _offset(offset, 3)
    return _offset(offset or timedelta(0), n)  # 'z': Unspecified kind uses the local offset, UTC on Azure


def _offset(offset: timedelta, n: int) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}" if n == 1 else f"{sign}{hours:02d}" if n == 2 else f"{sign}{hours:02d}:{mins:02d}"


def dotnet_guid(value: uuid.UUID, fmt: str) -> str:
    """``Guid.ToString(fmt)``: N, D, B, P or X (either case); ValueError otherwise."""
    d = str(value)
    kind = fmt.upper() if len(fmt) == 1 else ""
    if kind == "X":
        h = value.hex
        tail = ",".join(f"0x{h[i : i + 2]}" for i in range(16, 32, 2))
        return f"{{0x{h[:8]},0x{h[8:12]},0x{h[12:16]},{{{tail}}}}}"
    forms = {"N": value.hex, "D": d, "B": f"{{{d}}}", "P": f"({d})"}
    if kind not in forms:
        raise ValueError(fmt)
    return forms[kind]


def dotnet_double(value: float) -> str:
    """``double.ToString(InvariantCulture)`` (.NET Core 3.0+): shortest round-trip digits, 'E' notation when
    the exponent is ≥ max(digits, 15) or below -4 (``1E+15``, ``1E-05``), and ``1`` rather than ``1.0``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    scale = len("".join(map(str, digit_tuple))) + exponent  # the value is 0.<digits> * 10**scale
    prefix = "-" if sign else ""
    if scale > max(len(digits), 15) or scale < -3:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = scale - 1
        return f"{prefix}{mantissa}E{'-' if e < 0 else '+'}{abs(e):02d}"
    if scale <= 0:
        return f"{prefix}0.{'0' * -scale}{digits}"
    if scale >= len(digits):
        return prefix + digits + "0" * (scale - len(digits))
    return f"{prefix}{digits[:scale]}.{digits[scale:]}"
