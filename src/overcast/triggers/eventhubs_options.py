"""host.json ``extensions.eventHubs`` with the Event Hubs extension's (5.x) defaults (§6.4).

``prefetchCount``, ``transportType``, ``clientRetryOptions``, ``customEndpointAddress`` and
``targetUnprocessedEventThreshold`` are accepted and have nothing to act on in the embedded store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError

_WHAT = "host.json extensions.eventHubs"
OFFSET_TYPES = {"fromstart": "fromStart", "fromend": "fromEnd", "fromenqueuedtime": "fromEnqueuedTime"}


@dataclass(frozen=True)
class EventHubOptions:
    max_event_batch_size: int = 100
    min_event_batch_size: int = 1
    max_wait_time: float = 60.0
    batch_checkpoint_frequency: int = 1
    ownership_expiration: float = 30.0  # partitionOwnershipExpirationInterval
    load_balancing_interval: float = 10.0  # loadBalancingUpdateInterval
    initial_offset: str = "fromStart"  # fromStart, fromEnd, fromEnqueuedTime
    initial_enqueued_time: float | None = None  # epoch seconds, for fromEnqueuedTime


def _int(section: Mapping[str, Any], key: str, default: int, low: int) -> int:
    raw = section.get(key.lower(), default)
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigError(f"{_WHAT}.{key} must be an integer, got {raw!r}.") from None
    if value < low:
        raise ConfigError(f"{_WHAT}.{key} must be at least {low}, got {value}.")
    return value


def _span(section: Mapping[str, Any], key: str, default: float) -> float:
    raw = section.get(key.lower())
    if raw is None:
        return default
    value = parse_timespan(str(raw), what=f"{_WHAT}.{key}")
    if value <= 0:
        raise ConfigError(f"{_WHAT}.{key} must be a positive TimeSpan, got {raw!r}.")
    return value


def _enqueued_time(raw: Any) -> float:
    text = str(raw).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{_WHAT}.initialOffsetOptions.enqueuedTimeUtc must be an ISO 8601 time such as "
            f"\"2024-05-01T12:00:00Z\", got {raw!r}."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def eventhub_options(section: Mapping[str, Any]) -> EventHubOptions:
    """Raises ConfigError naming the setting for a bad value."""
    max_batch = _int(section, "maxEventBatchSize", 100, 1)
    min_batch = _int(section, "minEventBatchSize", 1, 1)
    if min_batch > max_batch:
        raise ConfigError(f"{_WHAT}.minEventBatchSize ({min_batch}) must not exceed maxEventBatchSize ({max_batch}).")
    expiration = _span(section, "partitionOwnershipExpirationInterval", 30.0)
    balancing = _span(section, "loadBalancingUpdateInterval", 10.0)
    if balancing >= expiration:
        raise ConfigError(
            f"{_WHAT}.loadBalancingUpdateInterval must be shorter than partitionOwnershipExpirationInterval: an "
            "instance renews its partitions at each update, so they would expire in between."
        )
    offsets = section.get("initialoffsetoptions") or {}
    if not isinstance(offsets, Mapping):
        raise ConfigError(f"{_WHAT}.initialOffsetOptions must be an object with a 'type'.")
    raw_type = str(offsets.get("type", "fromStart"))
    kind = OFFSET_TYPES.get(raw_type.lower())
    if kind is None:
        raise ConfigError(f"{_WHAT}.initialOffsetOptions.type must be fromStart, fromEnd or fromEnqueuedTime, "
                          f"got {raw_type!r}.")
    enqueued = None
    if kind == "fromEnqueuedTime":
        if offsets.get("enqueuedtimeutc") in (None, ""):
            raise ConfigError(f"{_WHAT}.initialOffsetOptions.enqueuedTimeUtc is required with type fromEnqueuedTime.")
        enqueued = _enqueued_time(offsets["enqueuedtimeutc"])
    return EventHubOptions(
        max_event_batch_size=max_batch, min_event_batch_size=min_batch,
        max_wait_time=_span(section, "maxWaitTime", 60.0),
        batch_checkpoint_frequency=_int(section, "batchCheckpointFrequency", 1, 1),
        ownership_expiration=expiration, load_balancing_interval=balancing,
        initial_offset=kind, initial_enqueued_time=enqueued,
    )
