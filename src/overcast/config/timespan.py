""".NET TimeSpan strings (``[-][d.]hh:mm[:ss[.fffffff]]``) as used in host.json."""

from __future__ import annotations

import re

from overcast.errors import ConfigError

_TIMESPAN = re.compile(
    r"^\s*(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d{1,7}))?)?\s*$"
)


def parse_timespan(text: str, *, what: str) -> float:
    """Seconds for a TimeSpan string; ``what`` names the setting in the error message.

    A bare integer is read as days, as .NET's ``TimeSpan.Parse`` does (so ``"-1"`` is minus one day).
    """
    stripped = text.strip()
    if re.fullmatch(r"-?\d+", stripped):
        return int(stripped) * 86400.0
    match = _TIMESPAN.match(text)
    if match is None:
        raise ConfigError(
            f"{what}: {text!r} is not a TimeSpan. Use hh:mm:ss (for example \"00:05:00\") or d.hh:mm:ss."
        )
    hours, minutes = int(match["h"]), int(match["m"])
    seconds = int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ConfigError(f"{what}: {text!r} has an hour, minute or second out of range.")
    total = int(match["days"] or 0) * 86400 + hours * 3600 + minutes * 60 + seconds
    fraction = float("0." + match["f"]) if match["f"] else 0.0
    value = total + fraction
    return -value if match["sign"] else value
