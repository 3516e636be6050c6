""".NET's string forms of values, as binding expressions render them: custom and standard DateTime formats,
GUID formats and the round-trip double format (``Double.ToString()``)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

__all__ = ["dotnet_datetime", "dotnet_double", "dotnet_guid"]


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
