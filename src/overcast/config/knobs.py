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
# Connection limits (docs/configuration.md): Kestrel's KeepAliveTimeout and RequestHeadersTimeout; Kestrel has no
# connection cap by default, but one process has a file-descriptor budget, so an instance admits this many.
DEFAULT_KEEPALIVE_TIMEOUT = 130.0
DEFAULT_HEADERS_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
MAX_TIMEOUT_SECONDS = 86_400.0
# Durable payloads (inputs, outputs, results, event data): Overcast's own limit, see overcast.durable.core.payloads.
DEFAULT_DURABLE_PAYLOAD_LIMIT = 512 * 1024


@dataclass(frozen=True)
class Knobs:
    queue_lease_seconds: float = 600.0
    blob_scan_seconds: float = 2.0
    durable_lease_seconds: float = 60.0
    durable_store_thread: bool = False
    durable_fast_timestamps: bool = True
    durable_payload_limit: int = DEFAULT_DURABLE_PAYLOAD_LIMIT
    keys_dir: Path | None = None
    # HTTP connection limits, per instance (see overcast.web.connections). None: the default, lowered to fit the
    # process's file-descriptor limit; a number the user set must fit it.
    http_keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    http_headers_timeout: float = DEFAULT_HEADERS_TIMEOUT
    http_max_connections: int | None = None
    # Event Grid local delivery: the waits between attempts (None: Event Grid's schedule) and the idle poll period.
    eventgrid_retry_schedule: tuple[float, ...] | None = None
    eventgrid_poll_seconds: float = 1.0


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


def positive_int(environ: Mapping[str, str], name: str) -> int | None:
    """A whole number of at least 1; None when unset."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        number = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, got {number}.")
    return number


def timeout(environ: Mapping[str, str], name: str, default: float) -> float:
    """A timeout in seconds (decimals allowed): more than 0, at most a day."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if not 0 < number <= MAX_TIMEOUT_SECONDS:  # also false for nan
        raise ConfigError(f"{name} must be more than 0 and at most {MAX_TIMEOUT_SECONDS:.0f} seconds, got {raw!r}.")
    return number


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


def retry_schedule(environ: Mapping[str, str], name: str) -> tuple[float, ...] | None:
    """Comma-separated waits in seconds (``10,30,60``), each from 0 to a day; None when unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds (like 10,30,60), got {raw!r}.") from None
    if any(not 0 <= value <= MAX_TIMEOUT_SECONDS for value in values):  # also false for nan
        raise ConfigError(f"{name} must list waits from 0 to {MAX_TIMEOUT_SECONDS:.0f} seconds, got {raw!r}.")
    return values


def load_knobs(environ: Mapping[str, str]) -> Knobs:
    return Knobs(
        queue_lease_seconds=seconds(environ, "OVERCAST_QUEUE_LEASE_SECONDS", 600.0, 1.0),
        blob_scan_seconds=seconds(environ, "OVERCAST_BLOB_SCAN_SECONDS", 2.0, 0.1),
        durable_lease_seconds=seconds(environ, "OVERCAST_DURABLE_LEASE_SECONDS", 60.0, 1.0),
        durable_store_thread=switch(environ, "OVERCAST_DURABLE_STORE_THREAD", False),
        durable_fast_timestamps=switch(environ, "OVERCAST_DURABLE_FAST_TIMESTAMPS", True),
        durable_payload_limit=positive_int(environ, "OVERCAST_DURABLE_MAX_PAYLOAD_BYTES")
        or DEFAULT_DURABLE_PAYLOAD_LIMIT,
        keys_dir=_keys_dir(environ),
        http_keepalive_timeout=timeout(environ, "OVERCAST_HTTP_KEEPALIVE_TIMEOUT", DEFAULT_KEEPALIVE_TIMEOUT),
        http_headers_timeout=timeout(environ, "OVERCAST_HTTP_HEADERS_TIMEOUT", DEFAULT_HEADERS_TIMEOUT),
        http_max_connections=positive_int(environ, "OVERCAST_HTTP_MAX_CONNECTIONS"),
        eventgrid_retry_schedule=retry_schedule(environ, "OVERCAST_EVENTGRID_RETRY_SCHEDULE"),
        eventgrid_poll_seconds=seconds(environ, "OVERCAST_EVENTGRID_POLL_SECONDS", 1.0, 0.01),
    )
