"""host.json ``extensions.serviceBus`` with the Service Bus extension 5.x defaults (§6.5)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError

# When sessionIdleTimeout is unset the extension waits the client's try timeout (1 min) for a session's next message;
# a receiver here polls the store instead, so a shorter wait frees the session for other sessions' messages sooner.
DEFAULT_SESSION_IDLE = 60.0


@dataclass(frozen=True)
class ServiceBusOptions:
    auto_complete: bool = True
    max_auto_lock_renewal: float = 300.0
    max_concurrent_calls: int = 16
    max_concurrent_sessions: int = 8
    max_message_batch_size: int = 1000
    min_message_batch_size: int = 1
    max_batch_wait_time: float = 30.0
    session_idle_timeout: float = DEFAULT_SESSION_IDLE
    max_polling_interval: float = 1.0  # Overcast's own: the longest wait between empty receives


def _where(key: str) -> str:
    return f"host.json extensions.serviceBus.{key}"


def _int(section: Mapping[str, Any], key: str, default: int, low: int) -> int:
    raw = section.get(key.lower(), default)
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigError(f"{_where(key)} must be an integer, got {raw!r}.") from None
    if value < low:
        raise ConfigError(f"{_where(key)} must be at least {low}, got {value}.")
    return value


def _span(section: Mapping[str, Any], key: str, default: float) -> float:
    raw = section.get(key.lower())
    return default if raw is None else parse_timespan(str(raw), what=_where(key))


def servicebus_options(section: Mapping[str, Any], cores: int | None = None) -> ServiceBusOptions:
    """The options of the ``extensions.serviceBus`` section (keys in any case); ConfigError for a bad value."""
    cores = cores or os.cpu_count() or 1
    auto = section.get("autocompletemessages", True)
    if not isinstance(auto, bool):
        raise ConfigError(f"{_where('autoCompleteMessages')} must be true or false, got {auto!r}.")
    largest = _int(section, "maxMessageBatchSize", 1000, 1)
    smallest = _int(section, "minMessageBatchSize", 1, 1)
    if smallest > largest:
        raise ConfigError(f"{_where('minMessageBatchSize')} ({smallest}) must not exceed maxMessageBatchSize "
                          f"({largest}).")
    return ServiceBusOptions(
        auto_complete=auto,
        max_auto_lock_renewal=_span(section, "maxAutoLockRenewalDuration", 300.0),
        max_concurrent_calls=_int(section, "maxConcurrentCalls", 16 * cores, 1),
        max_concurrent_sessions=_int(section, "maxConcurrentSessions", 8, 1),
        max_message_batch_size=largest,
        min_message_batch_size=smallest,
        max_batch_wait_time=_span(section, "maxBatchWaitTime", 30.0),
        session_idle_timeout=_span(section, "sessionIdleTimeout", DEFAULT_SESSION_IDLE),
        max_polling_interval=_polling(section),
    )


def _polling(section: Mapping[str, Any]) -> float:
    """``maxPollingInterval``: Overcast's own (as for storage queues), the longest wait between empty receives."""
    value = _span(section, "maxPollingInterval", 1.0)
    if value <= 0:
        raise ConfigError(f"{_where('maxPollingInterval')} must be longer than zero, got {value} s.")
    return value
