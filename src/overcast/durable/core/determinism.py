"""Non-determinism detection: recorded scheduling events against what the replay produced for the same ids.

Messages follow DTFx's ``NonDeterministicOrchestrationException`` wording (prefix "Non-Deterministic workflow
detected: ") and name both sides: what the history recorded and what the orchestrator produced instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from overcast.durable.core import actions as act
from overcast.durable.core.history import HTTP_ACTIVITY_NAME, EventType, event_type, format_timestamp
from overcast.durable.core.model import HistoryEvent
from overcast.durable.core.replay import Allocation, Kind

_PREFIX = "Non-Deterministic workflow detected: "
_QUESTION = "Was a change made to the orchestrator code after this instance had already started running?"

# Which allocations may stand behind each kind of recorded scheduling event.
_MATCHING_KINDS: dict[int, frozenset[Kind]] = {
    EventType.TASK_SCHEDULED: frozenset({Kind.ACTIVITY, Kind.HTTP}),
    EventType.TIMER_CREATED: frozenset({Kind.TIMER}),
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: frozenset({Kind.SUB_ORCHESTRATION}),
    EventType.EVENT_SENT: frozenset({Kind.ENTITY_CALL, Kind.ENTITY_SIGNAL}),
}


def determinism_problem(allocations: Mapping[int, Allocation], recorded: Mapping[int, HistoryEvent]) -> str | None:
    """The first mismatch (lowest sequence id) as a failure message, or None when the replay agrees."""
    for seq in sorted(recorded):
        event = recorded[seq]
        allocation = allocations.get(seq)
        was = f"A previous execution of this orchestration scheduled {describe_event(event)} with sequence ID {seq}"
        if allocation is None:
            return f"{_PREFIX}{was}, but the current replay execution hasn't (yet?) scheduled this task. {_QUESTION}"
        kinds = _MATCHING_KINDS.get(event_type(event), frozenset())
        if allocation.kind not in kinds or not _same_name(event, allocation):
            produced = describe_allocation(allocation)
            return f"{_PREFIX}{was}, but the current orchestration replay instead produced {produced}. {_QUESTION}"
    return None


def _same_name(event: HistoryEvent, allocation: Allocation) -> bool:
    """Names compare case-insensitively, as DTFx does; timers have none."""
    name = allocation_name(allocation)
    return name is None or str(event.get("Name") or "").lower() == name.lower()


def allocation_name(allocation: Allocation) -> str | None:
    action = allocation.action
    if isinstance(action, (act.CallActivity, act.CallSubOrchestrator)):
        return action.name
    if isinstance(action, act.CallHttp):
        return HTTP_ACTIVITY_NAME
    if isinstance(action, (act.CallEntity, act.SignalEntity)):
        return action.operation
    return None


def describe_event(event: HistoryEvent) -> str:
    kind, name = event_type(event), event.get("Name")
    if kind == EventType.TASK_SCHEDULED:
        return f"an activity task named '{name}'"
    if kind == EventType.TIMER_CREATED:
        return f"a timer task (fire at {event.get('FireAt')})"
    if kind == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED:
        return f"a sub-orchestration task named '{name}' (instance ID '{event.get('InstanceId')}')"
    return f"a send event task named '{name}' to instance ID '{event.get('InstanceId')}'"


def describe_allocation(allocation: Allocation) -> str:
    action = allocation.action
    if allocation.kind is Kind.TIMER:
        fire_at = f" (fire at {format_timestamp(allocation.fire_at)})" if allocation.fire_at else ""
        return f"a timer task{fire_at}"
    if isinstance(action, act.CallActivity):
        return f"an activity task named '{action.name}'"
    if isinstance(action, act.CallHttp):
        return f"a durable HTTP request ({action.request.get('method')} {action.request.get('uri')})"
    if isinstance(action, act.CallSubOrchestrator):
        return f"a sub-orchestration task named '{action.name}'"
    if isinstance(action, (act.CallEntity, act.SignalEntity)):
        verb = "a call to" if isinstance(action, act.CallEntity) else "a signal to"
        return f"{verb} entity '{action.entity_id}' (operation '{action.operation}')"
    return f"a {allocation.kind.value} task"
