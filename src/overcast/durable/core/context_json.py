"""The context JSON the host passes to an orchestrator function (spec §2.1).

``{"history": [...], "input": ..., "instanceId": ..., "isReplaying": ..., "parentInstanceId": ...,
"upperSchemaVersion": 1, "upperSchemaVersionNew": 2, <timer durations>}``. The history is the prepared episode's
(past events played, this episode's not); ``input`` is decoded from ExecutionStarted.Input as the extension does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from overcast.config import json_text
from overcast.durable.core.history import EventType, event_type
from overcast.durable.core.model import PreparedEpisode

# Both must be sent: SDK <1.3 reads only the first (1 = schema V2), SDK >=1.3 upgrades to the second (V3) (§8).
UPPER_SCHEMA_VERSION = 1
UPPER_SCHEMA_VERSION_NEW = 2


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Timer splitting (§7.7): Azure Storage's 6 days / 3 days. Set either to None to disable long timers."""

    maximum_short_timer: timedelta | None = timedelta(days=6)
    long_timer_interval: timedelta | None = timedelta(days=3)
    http_async_sleep_ms: int = 30000


DEFAULT_SETTINGS = ContextSettings()


def build_context(prepared: PreparedEpisode, settings: ContextSettings = DEFAULT_SETTINGS) -> str:
    """The JSON string to pass as the orchestration trigger value (the SDK wrapper accepts the bare string)."""
    return json.dumps(build_context_dict(prepared, settings))


def build_context_dict(prepared: PreparedEpisode, settings: ContextSettings = DEFAULT_SETTINGS) -> dict[str, Any]:
    instance = prepared.input.instance
    started = next((event for event in prepared.history if event_type(event) == EventType.EXECUTION_STARTED), {})
    context: dict[str, Any] = {
        "history": list(prepared.history),
        "input": orchestrator_input(started),
        "instanceId": instance.instance_id,
        # The extension sends ExecutionStarted.IsPlayed: false on an execution's first episode only.
        "isReplaying": bool(started.get("IsPlayed", False)),
        "parentInstanceId": instance.parent.instance_id if instance.parent is not None else None,
        "upperSchemaVersion": UPPER_SCHEMA_VERSION,
        "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
    }
    if settings.maximum_short_timer and settings.long_timer_interval:
        context["longRunningTimerIntervalDuration"] = format_timespan(settings.long_timer_interval)
        context["maximumShortTimerDuration"] = format_timespan(settings.maximum_short_timer)
    context["defaultHttpAsyncRequestSleepTimeMillseconds"] = settings.http_async_sleep_ms  # sic, the SDK's key
    return context


def orchestrator_input(execution_started: Mapping[str, Any]) -> Any:
    """The context ``input``: ``JToken.Parse(ExecutionStarted.Input)``, made safe for ``get_input()``.

    A JSON string (what the SDK sent as text) or object passes through; a number, list or boolean is re-encoded to
    text and stored text that is not JSON is passed as a JSON string of itself, so ``get_input()`` returns the
    value instead of raising (Decision 4).
    """
    stored = execution_started.get("Input")
    if stored is None:
        return None
    if not isinstance(stored, str):
        return stored if isinstance(stored, dict) else json.dumps(stored)
    try:
        value = json_text.loads(stored)
    except ValueError:
        return json.dumps(stored)
    if value is None or isinstance(value, (str, dict)):
        return value
    return json.dumps(value)


def format_timespan(span: timedelta) -> str:
    """.NET ``TimeSpan.ToString("c")``: ``[-][d.]hh:mm:ss[.fffffff]``."""
    ticks = (span.days * 86_400 + span.seconds) * 10_000_000 + span.microseconds * 10
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    seconds, fraction = divmod(ticks, 10_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{fraction:07d}" if fraction else text
