"""The durable core's vocabulary: runtime status, instance identity, episode inputs/outputs and work items.

History events are plain JSON dicts in the DTFx wire format (see ``history``); everything else that crosses the
boundary between the pure episode and the engine is one of the frozen dataclasses below.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HistoryEvent = dict[str, Any]
"""One history event exactly as it is stored and sent to the SDK (PascalCase keys, integer ``EventType``)."""


class RuntimeStatus(enum.Enum):
    """Orchestration runtime status (spec §7.1). JSON uses the value (the name); DTFx stores the code."""

    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    PENDING = "Pending"
    SUSPENDED = "Suspended"

    @property
    def code(self) -> int:
        """The DTFx ``OrchestrationStatus`` integer (``ExecutionCompleted.OrchestrationStatus``)."""
        return _STATUS_CODES[self]

    @property
    def is_finished(self) -> bool:
        """True once no episode will run again (events get 410, the instance id may be reused)."""
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED)

    @classmethod
    def from_code(cls, code: int) -> RuntimeStatus:
        for status, status_code in _STATUS_CODES.items():
            if status_code == code:
                return status
        raise ValueError(f"{code} is not a DTFx OrchestrationStatus code (0-7)")

    @classmethod
    def from_name(cls, name: str) -> RuntimeStatus:
        """Parse a status name case-insensitively, as the HTTP API's ``runtimeStatus`` filter does."""
        for status in cls:
            if status.value.lower() == name.strip().lower():
                return status
        names = ", ".join(status.value for status in cls)
        raise ValueError(f"'{name}' is not a runtime status; expected one of {names}")


_STATUS_CODES = {
    RuntimeStatus.RUNNING: 0,
    RuntimeStatus.COMPLETED: 1,
    RuntimeStatus.CONTINUED_AS_NEW: 2,
    RuntimeStatus.FAILED: 3,
    RuntimeStatus.CANCELED: 4,
    RuntimeStatus.TERMINATED: 5,
    RuntimeStatus.PENDING: 6,
    RuntimeStatus.SUSPENDED: 7,
}


def instance_id_problem(instance_id: str) -> str | None:
    """Why an orchestration instance id is not allowed (spec §7.2), or None when it is fine."""
    if not instance_id or len(instance_id) > 256:
        return f"Instance ID '{instance_id[:300]}' must be between 1 and 256 characters long."
    if instance_id.startswith("@"):
        return f"Orchestration instance ids must not start with @ ('{instance_id}')."
    if any(char in "/\\#?" or ord(char) < 32 or 127 <= ord(char) < 160 for char in instance_id):
        return f"Instance ID '{instance_id}' contains invalid characters (/, \\, #, ? or control characters)."
    return text_problem(instance_id, "Instance ID")


def text_problem(text: str, what: str) -> str | None:
    """Why a name from a URL or a command line is not UTF-8 text, or None.

    Invalid UTF-8 (``%FF`` in a URL, undecodable bytes in ``argv``) decodes to U+FFFD or to lone surrogates, so
    two different ids would become one: such names are refused instead (a literal U+FFFD is refused with them).
    """
    if any(char == "\ufffd" or 0xD800 <= ord(char) <= 0xDFFF for char in text):
        shown = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        return (f"{what} '{shown}' is not valid UTF-8 text (percent-encoded bytes such as %FF, or the replacement "
                "character U+FFFD); use UTF-8 text.")
    return None


# The Azure Storage provider's rule (AzureStorageOptions.ValidateHubName): the name must be a valid table name
# (a letter, then letters and digits) and at most 50 characters.
_MIN_HUB, _MAX_HUB = 3, 50


def task_hub_problem(name: str) -> str | None:
    """Why a task hub name is not allowed, in the extension's words, or None when it is fine."""
    if _MIN_HUB <= len(name) <= _MAX_HUB and name.isascii() and name[0].isalpha() and name.isalnum():
        return None
    return (f"Task hub name '{name}' should contain only alphanumeric characters, start with a letter, and have "
            f"length between {_MIN_HUB} and {_MAX_HUB}.")


@dataclass(frozen=True, slots=True)
class ParentInstance:
    """The orchestration that started a sub-orchestration, and the sequence id of that call in the parent."""

    name: str
    instance_id: str
    execution_id: str
    task_schedule_id: int
    version: str = ""


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """What the engine knows about the instance whose episode runs (the current execution)."""

    instance_id: str
    execution_id: str
    name: str
    version: str = ""
    parent: ParentInstance | None = None


@dataclass(frozen=True, slots=True)
class FunctionCatalog:
    """Registered activity and orchestrator names, to fail fast on unknown names as the extension does.

    Lookups are case-insensitive (Functions names are). Leave the catalog out of ``EpisodeInput`` to skip the check.
    """

    activities: tuple[str, ...] = ()
    orchestrators: tuple[str, ...] = ()

    def has_activity(self, name: str) -> bool:
        return name.lower() in (known.lower() for known in self.activities)

    def has_orchestrator(self, name: str) -> bool:
        return name.lower() in (known.lower() for known in self.orchestrators)


@dataclass(frozen=True, slots=True)
class EpisodeInput:
    """Everything one episode needs: the stored history of the current execution and the messages to deliver.

    ``new_events`` are history-event dicts (built with ``overcast.durable.core.history``) in arrival order. ``now``
    is the wall clock; the episode never lets time run backwards (see ``episode.prepare``).
    """

    instance: InstanceSnapshot
    history: Sequence[Mapping[str, Any]]
    new_events: Sequence[Mapping[str, Any]]
    now: datetime
    catalog: FunctionCatalog | None = None
    payload_limit: int = 512 * 1024  # UTF-8 bytes per payload (``overcast.durable.core.payloads``)


@dataclass(frozen=True, slots=True)
class PreparedEpisode:
    """The episode after framing: ``history`` is what the SDK replays (past + OrchestratorStarted + new events).

    ``appended`` are the events of this episode so far (they start the list the caller will persist);
    ``discarded`` are delivered events that were dropped (duplicate or unknown completions, events after a
    termination) so the engine can log them. When ``terminated`` is set the orchestrator must not be invoked.
    """

    input: EpisodeInput
    history: tuple[HistoryEvent, ...]
    first_new_index: int
    appended: tuple[HistoryEvent, ...]
    discarded: tuple[HistoryEvent, ...]
    now: datetime
    terminated: HistoryEvent | None = None

    @property
    def needs_invocation(self) -> bool:
        return self.terminated is None


# ---- work the episode sends out -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityTask:
    """Run activity ``name`` with ``input`` (JSON text); answer with TaskCompleted/TaskFailed(``task_id``)."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True, slots=True)
class HttpTask:
    """Perform the durable HTTP ``request`` (the SDK's ``httpRequest`` dict); answer with TaskCompleted(``task_id``)."""

    instance_id: str
    execution_id: str
    task_id: int
    request: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OrchestrationStart:
    """Start sub-orchestration ``name`` as instance ``instance_id`` with ``input`` (JSON text) for ``parent``.

    If the id is held by an active instance, tell the parent with ``SubOrchestrationInstanceFailed`` instead of
    starting it (spec §7.2).
    """

    instance_id: str
    name: str
    input: str | None
    version: str
    parent: ParentInstance


@dataclass(frozen=True, slots=True)
class EntityRequest:
    """One operation for entity ``entity_id`` (``@name@key``).

    ``input`` is the batch-item input text (double-encoded, spec §0.1). For calls (``is_signal`` false) the entity
    answers the parent with ``EventRaised{Name: request_id}``. ``message`` is the extension's RequestMessage JSON.
    """

    entity_id: str
    operation: str
    input: str | None
    is_signal: bool
    request_id: str
    parent_instance_id: str
    parent_execution_id: str
    message: str
    scheduled_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstanceMessage:
    """Deliver ``event`` to orchestration ``instance_id`` (to ``execution_id`` only, when set) from ``visible_at``.

    Used for timers (TimerFired to self at the fire time) and for notifying a parent orchestration.
    """

    instance_id: str
    execution_id: str | None
    event: HistoryEvent
    visible_at: datetime | None = None


WorkItem = ActivityTask | HttpTask | OrchestrationStart | EntityRequest | InstanceMessage


@dataclass(frozen=True, slots=True)
class FailureDetails:
    """Why an orchestration failed: ``reason`` is the status output / parent Reason, ``details`` the traceback."""

    reason: str
    details: str = ""
    error_type: str = "OrchestrationFailureException"


@dataclass(frozen=True, slots=True)
class ContinueAsNewPlan:
    """The next execution: ``input`` is the ContinueAsNew action's JSON text; ``carried_events`` go to it first."""

    input: str | None
    carried_events: tuple[HistoryEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class EpisodeOutcome:
    """What the caller must persist atomically after an episode (spec §7.11).

    * ``events``: append to the current execution's history, in order.
    * ``work``: send out (activities, HTTP calls, timers, sub-orchestration starts, entity messages, parent notices).
    * ``status`` / ``output`` / ``custom_status``: the new runtime status; ``output`` and ``custom_status`` are the
      text DTFx stores (JSON text; the raw reason for Failed/Terminated), None when absent.
    * ``continue_as_new``: set when the status is ContinuedAsNew; start the next execution with
      ``episode.next_execution_events``.
    * ``canceled_timer_ids``: timers the code cancelled; their pending TimerFired messages may be dropped.

    On termination ``custom_status`` is None: keep the stored one (termination does not run the orchestrator).
    """

    events: tuple[HistoryEvent, ...]
    work: tuple[WorkItem, ...]
    status: RuntimeStatus
    output: str | None = None
    custom_status: str | None = None
    failure: FailureDetails | None = None
    continue_as_new: ContinueAsNewPlan | None = None
    discarded_events: tuple[HistoryEvent, ...] = ()
    canceled_timer_ids: tuple[int, ...] = field(default=())
