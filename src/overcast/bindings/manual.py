"""Trigger input for a manual invocation (``POST /admin/functions/{name}`` with ``{"input": "..."}``).

As in the host, the string is converted by the trigger binding; nothing is dequeued or read from a store.
Trigger types without an entry get the string as-is (what the worker's generic converter expects).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ManualInput = Callable[[str], tuple[Any, dict[str, Any]]]


def _timer(_: str) -> tuple[Any, dict[str, Any]]:
    from azure.functions.meta import Datum

    payload = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False}
    return Datum(json.dumps(payload), "json"), {}


def _generic(text: str) -> tuple[Any, dict[str, Any]]:
    from azure.functions.meta import Datum

    return Datum(text, "string"), {}


def _queue(text: str) -> tuple[Any, dict[str, Any]]:
    """A message that was never enqueued: no id, no pop receipt, dequeue count 0 (as the host builds it)."""
    from azure.functions.meta import Datum

    return Datum(text, "string"), {"DequeueCount": Datum("0", "json"), "QueueTrigger": Datum(text, "string")}


def _warmup(_: str) -> tuple[Any, dict[str, Any]]:
    """The host hands the worker a ``WarmupContext`` with no properties (JSON ``{}``); the library's converter
    makes a ``func.WarmUpContext`` of it whatever it holds."""
    from azure.functions.meta import Datum

    return Datum("{}", "json"), {}


MANUAL_INPUTS: dict[str, ManualInput] = {"timerTrigger": _timer, "queueTrigger": _queue, "warmupTrigger": _warmup}


def manual_input(trigger_type: str, text: str) -> tuple[Any, dict[str, Any]]:
    return MANUAL_INPUTS.get(trigger_type, _generic)(text)
