"""The ``draining`` notification: a stopping instance tells the supervisor which invocations it still waits for, and
the supervisor says so on the console (a stop with work in flight would otherwise be silent for up to the graceful
timeout)."""

from __future__ import annotations

import math


def draining_message(running: dict[str, int], limit: int = 180) -> str:
    """The ``draining`` notification for the supervisor: ``draining <total> <name>=<count> ...``.

    Function names hold no spaces or ``=``; names that would make the line longer than ``limit`` are left out
    (the total still counts them), so the supervisor's line-length cap never cuts one in half.
    """
    total = sum(running.values())
    message = f"draining {total}"
    for name, count in running.items():
        part = f" {name}={count}"
        if len(message) + len(part) > limit:
            break
        message += part
    return message


def parse_draining(message: str) -> tuple[int, dict[str, int]] | None:
    """The (total, counts by function) of a ``draining`` notification, None if it is not one."""
    words = message.split()
    if len(words) < 2 or words[0] != "draining" or not words[1].isdigit():
        return None
    counts: dict[str, int] = {}
    for word in words[2:]:
        name, _, count = word.rpartition("=")
        if name and count.isdigit():
            counts[name] = int(count)
    return int(words[1]), counts


def waiting_line(total: int, counts: dict[str, int], seconds: float, *, interrupted: bool) -> str:
    """What the console says while a stop waits for invocations in flight."""
    names = ", ".join(name if count == 1 else f"{name} ({count})" for name, count in counts.items())
    shown = sum(counts.values())
    if names and shown < total:
        names += f" and {total - shown} more"
    what = "1 invocation" if total == 1 else f"{total} invocations"
    hint = "Press Ctrl+C again to stop at once." if interrupted else "Send SIGINT (Ctrl+C) to stop at once."
    detail = f" ({names})" if names else ""
    return f"Waiting up to {max(0, math.ceil(seconds))}s for {what} in flight to finish{detail}. {hint}"
