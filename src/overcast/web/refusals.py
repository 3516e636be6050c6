"""One console line saying why a request was refused for its key (401).

Azure answers a missing or wrong key with an empty 401 and logs nothing useful; enforcing keys locally is our
choice, so we owe the explanation. The line names the function (or API), the level it needs, what the request
presented and how to get a key; it never shows the key itself. Lines are rate-limited per target so a client in a
retry loop cannot flood the console: at most one line per target per ``window`` seconds, and the next line says how
many were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("overcast.host.auth")
WINDOW_SECONDS = 5.0
_MAX_TARGETS = 1024  # targets are function names and a few API names; the cap only bounds hostile input
HINT = "`overcast keys list` shows the keys (or start with --no-auth to turn keys off)"
_LEVEL_NEEDS = {
    "function": "a function key (this function's, or a host key) or the master key",
    "admin": "the master key",
}


@dataclass(frozen=True)
class Refusal:
    """What was refused and why. ``presented`` is None when the request had no key, else the kind of key it
    carried (``"unknown"`` for a key that matches nothing)."""

    target: str  # "function 'hello'", "the admin API", ...
    level: str  # "function" | "admin" | "system"
    presented: str | None
    method: str
    path: str
    needs: str | None = None  # overrides the wording of what the level needs (system keys)


def describe(refusal: Refusal) -> str:
    """The console line for one refusal (without the suppressed count)."""
    needs = refusal.needs or _LEVEL_NEEDS.get(refusal.level, "a key")
    if refusal.presented is None:
        got = "the request had no key"
    elif refusal.presented == "unknown":
        got = "the key sent is not one of the keys it accepts"
    else:
        got = f"the key sent is a {refusal.presented} key, which is not enough"
    return (
        f"Refused {refusal.method} {_printable(refusal.path)} with 401: {refusal.target} has authLevel "
        f"'{refusal.level}' and needs {needs}; {got}. Send the key in the x-functions-key header or as ?code=...; "
        f"{HINT}."
    )


def _printable(path: str, limit: int = 200) -> str:
    """The path as it can safely go on one console line (no control characters, bounded)."""
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in path[:limit])
    return text + ("..." if len(path) > limit else "")


class RefusalLog:
    """Rate-limited logging of refused requests: one line per target per window, with the count left out."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic,
                 emit: Callable[[str], None] | None = None) -> None:
        self._window = window
        self._clock = clock
        self._emit = emit or (lambda line: log.warning("%s", line))
        self._last: dict[str, float] = {}  # target -> when its last line was written
        self._suppressed: dict[str, int] = {}

    def refused(self, refusal: Refusal) -> bool:
        """Record one refusal; True if a line was written for it."""
        now = self._clock()
        target = refusal.target
        last = self._last.get(target)
        if last is not None and now - last < self._window:
            self._suppressed[target] = self._suppressed.get(target, 0) + 1
            return False
        if last is None and len(self._last) >= _MAX_TARGETS:
            self._last.clear()
            self._suppressed.clear()
        self._last[target] = now
        line = describe(refusal)
        left_out = self._suppressed.pop(target, 0)
        if left_out:
            plural = "s" if left_out != 1 else ""
            line += f" ({left_out} more refused request{plural} for {target} not shown since the last such line.)"
        self._emit(line)
        return True
