"""Overcast's own ``OVERCAST_*`` environment knobs, read and validated once at start.

A bad value stops the start with one line naming the variable (exit 3): read lazily in an instance, it would crash
every instance the supervisor starts, over and over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from overcast.errors import ConfigError

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
MAX_SECONDS = 7 * 24 * 3600.0  # longer leases or scan intervals are always a typo (ms instead of s)


@dataclass(frozen=True)
class Knobs:
    queue_lease_seconds: float = 600.0
    blob_scan_seconds: float = 2.0
    durable_lease_seconds: float = 60.0
    durable_store_thread: bool = False
    durable_fast_timestamps: bool = True
    keys_dir: Path | None = None


def seconds(environ: Mapping[str, str], name: str, default: float, low: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if not math.isfinite(value) or not low <= value <= MAX_SECONDS:
        raise ConfigError(f"{name} must be between {low:g} and {MAX_SECONDS:g} seconds, got {raw!r}.")
    return value


def switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1/true/on or 0/false/off, got {raw!r}.")


def _keys_dir(environ: Mapping[str, str]) -> Path | None:
    raw = environ.get("OVERCAST_KEYS_DIR", "")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_dir():
        raise ConfigError(
            f"OVERCAST_KEYS_DIR is '{raw}', which is not a folder. Create it (one file per key) or unset it."
        )
    return path


def load_knobs(environ: Mapping[str, str]) -> Knobs:
    return Knobs(
        queue_lease_seconds=seconds(environ, "OVERCAST_QUEUE_LEASE_SECONDS", 600.0, 1.0),
        blob_scan_seconds=seconds(environ, "OVERCAST_BLOB_SCAN_SECONDS", 2.0, 0.1),
        durable_lease_seconds=seconds(environ, "OVERCAST_DURABLE_LEASE_SECONDS", 60.0, 1.0),
        durable_store_thread=switch(environ, "OVERCAST_DURABLE_STORE_THREAD", False),
        durable_fast_timestamps=switch(environ, "OVERCAST_DURABLE_FAST_TIMESTAMPS", True),
        keys_dir=_keys_dir(environ),
    )
