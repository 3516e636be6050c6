"""host.json ``extensions.queues`` with the Storage extension's defaults (§4.4)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError

# How long a received message stays invisible while its function runs (renewed at half): the host uses 10 minutes.
# A shorter lease brings back the messages of a killed instance sooner; OVERCAST_QUEUE_LEASE_SECONDS (Settings) sets it.
DEFAULT_LEASE = 600.0


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 2.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"
    lease: float = DEFAULT_LEASE


def _int(section: Mapping[str, Any], key: str, default: int, low: int, high: int | None = None) -> int:
    raw = section.get(key.lower(), default)
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigError(f"host.json extensions.queues.{key} must be an integer, got {raw!r}.") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"host.json extensions.queues.{key} must be {bounds}, got {value}.")
    return value


def queue_options(section: Mapping[str, Any], environ: Mapping[str, str] = os.environ,
                  lease: float = DEFAULT_LEASE) -> QueueOptions:
    """``lease`` is OVERCAST_QUEUE_LEASE_SECONDS, validated once in Settings."""
    batch = _int(section, "batchSize", 16, 1, 32)
    cores = 1 if environ.get("WEBSITE_SKU") == "Dynamic" else (os.cpu_count() or 1)
    threshold = _int(section, "newBatchThreshold", (batch // 2) * cores, 0)
    polling = section.get("maxpollinginterval")
    # Under Core Tools (Development) the default maximum polling interval is 2 s instead of 1 min.
    max_poll = parse_timespan(str(polling), what="host.json extensions.queues.maxPollingInterval") if polling else 2.0
    if max_poll < 0.1:
        raise ConfigError("host.json extensions.queues.maxPollingInterval must be at least 00:00:00.100.")
    visibility = section.get("visibilitytimeout")
    encoding = str(section.get("messageencoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise ConfigError(f"host.json extensions.queues.messageEncoding must be base64 or none, got {encoding!r}.")
    return QueueOptions(
        batch_size=batch,
        new_batch_threshold=threshold,
        max_polling_interval=max_poll,
        visibility_timeout=(
            parse_timespan(str(visibility), what="host.json extensions.queues.visibilityTimeout") if visibility else 0.0
        ),
        max_dequeue_count=_int(section, "maxDequeueCount", 5, 1),
        message_encoding=encoding,
        lease=max(lease, 1.0),
    )
