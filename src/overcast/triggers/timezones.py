"""The time zone timer schedules run in: ``WEBSITE_TIME_ZONE`` (IANA name or a common Windows zone id), else
``TZ``, else UTC (§6.3)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from overcast.errors import ConfigError

UTC = timezone.utc
__all__ = ["resolve_time_zone"]


_UTC_NAMES = frozenset({"utc", "etc/utc", "coordinated universal time", "gmt", "etc/gmt", "universal", "zulu"})
_WINDOWS_ZONES = {key.casefold(): value for key, value in {
    "Pacific Standard Time": "America/Los_Angeles", "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix", "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York", "Atlantic Standard Time": "America/Halifax",
    "Hawaiian Standard Time": "Pacific/Honolulu", "E. South America Standard Time": "America/Sao_Paulo",
    "GMT Standard Time": "Europe/London", "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris", "Central European Standard Time": "Europe/Warsaw",
    "FLE Standard Time": "Europe/Kiev", "Russian Standard Time": "Europe/Moscow",
    "South Africa Standard Time": "Africa/Johannesburg", "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai", "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo", "AUS Eastern Standard Time": "Australia/Sydney",
}.items()}


def resolve_time_zone(environ: Mapping[str, str]) -> tzinfo:
    """The zone schedules are read in: ``WEBSITE_TIME_ZONE``, else ``TZ``, else UTC (the host's local zone)."""
    for variable in ("WEBSITE_TIME_ZONE", "TZ"):
        raw = environ.get(variable, "").strip()
        if raw:
            return _time_zone(variable, raw)
    return UTC


def _time_zone(variable: str, raw: str) -> tzinfo:
    name = raw[1:] if raw.startswith(":") else raw  # POSIX allows TZ=":Europe/Amsterdam"
    if name.casefold() in _UTC_NAMES:
        return UTC
    name = _WINDOWS_ZONES.get(name.casefold(), name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    same = sorted(zone for zone in available_timezones() if zone.casefold() == name.casefold())
    hint = f"did you mean '{same[0]}'?" if same else "use an IANA name such as 'Europe/Amsterdam'."
    raise ConfigError(f"{variable}={raw!r} is not a known time zone; {hint}")
