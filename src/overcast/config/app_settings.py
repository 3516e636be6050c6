"""``%AppSetting%`` references in binding properties (§7): resolved once, when a function is indexed.

Settings are looked up as the host's IConfiguration does: exact name first, ``:`` and ``__`` alike, then
case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping

from overcast.errors import ConfigError


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
