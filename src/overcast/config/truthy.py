"""Boolean app settings parsed the way the Python worker parses them."""

from __future__ import annotations

_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n"})


def parse_bool(value: str | None, default: bool = False) -> bool:
    """True-like: 1, true, t, yes, y; false-like: 0, false, f, no, n (trimmed, any case)."""
    if value is None:
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return default
