"""Size limits of durable payloads: orchestration inputs and outputs, activity inputs and results, event data,
entity inputs, custom status. Pure functions; the HTTP API answers 400 and the engine fails the orchestration (or
the activity) with their messages.

Azure's Durable Task Storage provider has no hard limit (a large payload goes to a blob), so the general limit is
Overcast's own: ``OVERCAST_DURABLE_MAX_PAYLOAD_BYTES`` (UTF-8 bytes of the JSON text, 512 KiB by default). Every
payload is kept in the history, replayed to the orchestrator on each episode and parsed and serialised by it, so a
payload of tens of megabytes multiplies in the database and holds the interpreter for long stretches: each JSON call
on it holds the GIL throughout, whatever thread runs it. At 512 KiB, unrelated HTTP requests keep a p99 under 50 ms
while such payloads go through (bench/durable_large_payload.py, docs/performance.md). The custom
status limit is Azure's: the extension refuses a custom status whose JSON text is over 16 KB in UTF-16.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from overcast.config.settings import DEFAULT_DURABLE_PAYLOAD_LIMIT
from overcast.durable.core.actions import (
    Action,
    CallActivity,
    CallEntity,
    CallSubOrchestrator,
    ContinueAsNew,
    SignalEntity,
)

DEFAULT_LIMIT = DEFAULT_DURABLE_PAYLOAD_LIMIT
SETTING = "OVERCAST_DURABLE_MAX_PAYLOAD_BYTES"
CUSTOM_STATUS_MAX_KB = 16  # the extension's MaxCustomStatusPayloadSizeInKB
# From this many characters a payload's store call runs on a thread, and an orchestrator whose context is this long
# runs on the thread pool rather than inline on the event loop.
LARGE = 64 * 1024
_ADVICE = "keep large data in a blob (or a table) and pass its name instead"


def too_large(what: str, text: str | None, limit: int) -> str | None:
    """Why ``text`` (a JSON payload) is refused, or None. Cheap for small texts: a UTF-8 character is at most 4
    bytes, so only a text longer than a quarter of the limit is encoded to count."""
    if text is None or len(text) * 4 <= limit:
        return None
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return None if size <= limit else over_limit(what, size, limit)


def over_limit(what: str, size: int, limit: int) -> str:
    return (f"The {what} is {size:,} bytes of JSON, over the limit of {limit:,} bytes for durable payloads "
            f"({SETTING}); {_ADVICE}.")


def custom_status_problem(text: str | None) -> str | None:
    """The extension's own check and message (``MessagePayloadDataConverter.Serialize`` with a 16 KB maximum)."""
    if text is None or len(text) * 2 < (CUSTOM_STATUS_MAX_KB + 1) * 1024:
        return None
    size_kb = len(text.encode("utf-16-le", "surrogatepass")) // 1024
    if size_kb <= CUSTOM_STATUS_MAX_KB:
        return None
    return (f"The UTF-16 size of the JSON-serialized payload must not exceed {CUSTOM_STATUS_MAX_KB:,} KB. The current "
            f"payload size is {size_kb:,} KB.")


def action_input_problem(actions: Iterable[Action | None], limit: int) -> str | None:
    """The first input of new work (an activity, a sub-orchestration, an entity operation, continue-as-new) over the
    limit, or None."""
    for action in actions:
        if isinstance(action, CallActivity):
            what = f"input of activity '{action.name}'"
        elif isinstance(action, CallSubOrchestrator):
            what = f"input of sub-orchestration '{action.name}'"
        elif isinstance(action, (CallEntity, SignalEntity)):
            what = f"input of the operation on entity '{action.entity_id}'"
        elif isinstance(action, ContinueAsNew):
            what = "input of continue-as-new"
        else:
            continue
        problem = too_large(what, action.input, limit)
        if problem is not None:
            return problem
    return None


def is_large(size: int) -> bool:
    """Whether work on ``size`` characters of payload belongs off the event loop (see ``LARGE``)."""
    return size > LARGE


def history_size(events: Iterable[Mapping[str, Any]]) -> int:
    """Characters of payload in history events (inputs, results, event data, reasons): what replaying them moves."""
    return sum(len(value) for event in events for key in _PAYLOAD_KEYS if isinstance(value := event.get(key), str))


_PAYLOAD_KEYS = ("Input", "Result", "Reason", "Details")
