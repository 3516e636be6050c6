"""One orchestration episode, pure: (instance, history, new events, orchestrator response) -> outcome.

Usage by the engine::

    prepared = episode.prepare(EpisodeInput(instance, stored_history, inbox_events, now))
    if prepared.needs_invocation:
        body = context_json.build_context(prepared)          # invoke the orchestrator function with it
        response = actions.response_from_return(text)          # or actions.response_from_exception(msg, tb)
    outcome = episode.finish(prepared, response or None)       # persist outcome.* atomically, send outcome.work

History layout (DTFx): OrchestratorStarted, the delivered events, the scheduling events of new work in id order,
OrchestratorCompleted, and ExecutionCompleted when the execution ends. Ids come from the shadow replay (``replay``);
a recorded scheduling event the replay does not reproduce fails the instance as non-deterministic.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from overcast.durable.core import history as h
from overcast.durable.core.actions import (
    CallActivity,
    CallEntity,
    CallHttp,
    CallSubOrchestrator,
    OrchestratorResponse,
    SignalEntity,
)
from overcast.durable.core.determinism import determinism_problem
from overcast.durable.core.entities import parse_entity_id, request_message, scheduler_id
from overcast.durable.core.model import (
    ActivityTask,
    ContinueAsNewPlan,
    EntityRequest,
    EpisodeInput,
    EpisodeOutcome,
    FailureDetails,
    HistoryEvent,
    HttpTask,
    InstanceMessage,
    InstanceSnapshot,
    OrchestrationStart,
    ParentInstance,
    PreparedEpisode,
    RuntimeStatus,
    WorkItem,
    instance_id_problem,
)
from overcast.durable.core.payloads import action_input_problem, custom_status_problem, too_large
from overcast.durable.core.replay import Allocation, Kind, ShadowReplay
from overcast.errors import DurableProtocolError

# ---- before the invocation ---------------------------------------------------------------------------------------


def prepare(episode: EpisodeInput) -> PreparedEpisode:
    """Frame the episode: mark past events played, drop duplicate or unknown completions, stamp OrchestratorStarted.

    The episode time is ``episode.now`` but never earlier than the previous episode nor than a delivered timer's
    fire time, so ``current_utc_datetime`` never runs backwards and a timer never fires early (§7.7, §7.9).
    Raises ``DurableProtocolError`` when the history has already ended or there is no ExecutionStarted at all.
    """
    past = [dict(event, IsPlayed=True) for event in episode.history]
    if any(h.event_type(event) == h.EventType.EXECUTION_COMPLETED for event in past):
        raise DurableProtocolError(f"instance '{episode.instance.instance_id}': this execution has already ended")
    scheduled = {event.get("EventId") for event in past if h.event_type(event) in h.SCHEDULING_EVENTS}
    completed = {h.completed_id(event) for event in past} - {None}
    started = any(h.event_type(event) == h.EventType.EXECUTION_STARTED for event in past)
    kept: list[HistoryEvent] = []
    discarded: list[HistoryEvent] = []
    terminated: HistoryEvent | None = None
    for raw in episode.new_events:
        event = dict(raw, IsPlayed=False)
        event.setdefault("EventId", -1)
        kind, seq = h.event_type(event), h.completed_id(event)
        if terminated is not None or kind < 0 or not isinstance(event.get("Timestamp"), str):
            discarded.append(event)
        elif kind in h.COMPLETION_EVENTS and (seq is None or seq in completed or seq not in scheduled):
            discarded.append(event)  # at-least-once delivery: a second completion, or one for an unknown task
        elif kind == h.EventType.EXECUTION_STARTED:
            if started:
                discarded.append(event)
            else:
                started = True
                kept.insert(0, event)  # the SDK expects it right after the first OrchestratorStarted
        else:
            if seq is not None:
                completed.add(seq)
            if kind == h.EventType.EXECUTION_TERMINATED:
                terminated = event
            kept.append(event)
    if not started:
        raise DurableProtocolError(
            f"instance '{episode.instance.instance_id}': no ExecutionStarted in the history or the new events; "
            "deliver history.execution_started(...) as the first message of an execution"
        )
    now = _episode_time(episode, past)
    appended = (h.orchestrator_started(now), *kept)
    return PreparedEpisode(
        input=episode,
        history=(*past, *appended),
        first_new_index=len(past),
        appended=appended,
        discarded=tuple(discarded),
        now=now,
        terminated=terminated,
    )


def _episode_time(episode: EpisodeInput, past: list[HistoryEvent]) -> datetime:
    candidates = [h.as_utc(episode.now)]
    candidates += [
        moment
        for event in past
        if h.event_type(event) == h.EventType.ORCHESTRATOR_STARTED and (moment := h.event_time(event)) is not None
    ]
    for event in episode.new_events:
        if h.event_type(dict(event)) == h.EventType.TIMER_FIRED:
            with contextlib.suppress(ValueError):
                candidates.append(h.parse_timestamp(event.get("FireAt", "")))
    return max(candidates)


# ---- after the invocation ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scope:
    instance: InstanceSnapshot
    now: datetime


def finish(prepared: PreparedEpisode, response: OrchestratorResponse | None) -> EpisodeOutcome:
    """Decide what to append, what to send and the new status. Never raises for anything the orchestrator returned.

    ``response`` must be given unless ``prepared.needs_invocation`` is false (a termination).
    """
    scope = _Scope(prepared.input.instance, prepared.now)
    if prepared.terminated is not None:
        return _terminate(prepared, scope)
    if response is None:
        raise DurableProtocolError("this episode needs the orchestrator's response; invoke it with the context JSON")
    start_time = h.event_time(prepared.history[0]) or prepared.now
    replay = ShadowReplay(response.actions, prepared.first_new_index, start_time).run(prepared.history)
    custom_status = json.dumps(response.custom_status) if response.custom_status is not None else None
    if (problem := custom_status_problem(custom_status)) is not None:
        response, custom_status = replace(response, error=problem, details=""), None
    if response.error is not None:
        reason = h.orchestrator_failed_reason(scope.instance.name, response.error)
        return _fail(prepared, scope, FailureDetails(reason, response.details), replay.counter, custom_status)
    problem = determinism_problem(replay.allocations, replay.recorded)
    if problem is not None:
        failure = FailureDetails(problem, "", "NonDeterministicOrchestrationException")
        return _fail(prepared, scope, failure, replay.counter, custom_status)
    new = [allocation for seq, allocation in sorted(replay.allocations.items()) if seq not in replay.recorded]
    limit = prepared.input.payload_limit
    problem = _new_work_problem(prepared, new) or action_input_problem(
        [a.action for a in new] + [replay.continue_as_new] * response.is_done, limit)
    output = json.dumps(response.output) if response.is_done and response.has_output else None
    if problem is None:
        problem = too_large("orchestration output", output, limit)
    if problem is not None:
        failure = FailureDetails(h.orchestrator_failed_reason(scope.instance.name, problem))
        return _fail(prepared, scope, failure, replay.counter, custom_status)

    events: list[HistoryEvent] = list(prepared.appended)
    work: list[WorkItem] = []
    for allocation in new:
        event, item = _SCHEDULERS[allocation.kind](scope, allocation)
        events.append(event)
        if item is not None:
            work.append(item)
    events.append(h.orchestrator_completed(scope.now))
    canceled = tuple(seq for seq, a in replay.allocations.items() if a.kind is Kind.TIMER and a.canceled)
    common: dict[str, Any] = {"discarded_events": prepared.discarded, "canceled_timer_ids": canceled}

    if response.is_done and replay.continue_as_new is not None:
        text = replay.continue_as_new.input
        events.append(h.execution_completed(replay.counter, RuntimeStatus.CONTINUED_AS_NEW, text, scope.now))
        plan = ContinueAsNewPlan(text, tuple(dict(event) for event in replay.carried_events))
        return EpisodeOutcome(
            tuple(events), tuple(work), RuntimeStatus.CONTINUED_AS_NEW, None, custom_status, None, plan, **common
        )
    if response.is_done and not replay.open_task_ids():
        events.append(h.execution_completed(replay.counter, RuntimeStatus.COMPLETED, output, scope.now))
        work.extend(_notify_parent(scope, h.sub_orchestration_completed, output))
        return EpisodeOutcome(tuple(events), tuple(work), RuntimeStatus.COMPLETED, output, custom_status, **common)
    # Not done, or done while activities/timers it started are still open: DTFx keeps it Running (Decision 2).
    return EpisodeOutcome(tuple(events), tuple(work), RuntimeStatus.RUNNING, None, custom_status, **common)


def _fail(
    prepared: PreparedEpisode, scope: _Scope, failure: FailureDetails, seq: int, custom_status: str | None
) -> EpisodeOutcome:
    """End the execution as Failed. Nothing new is scheduled (§3.4); a parent gets SubOrchestrationInstanceFailed."""
    events = [
        *prepared.appended,
        h.orchestrator_completed(scope.now),
        h.execution_completed(seq, RuntimeStatus.FAILED, failure.reason, scope.now, failure),
    ]
    notify = _notify_parent(scope, _failed_notice(failure.details), failure.reason)
    return EpisodeOutcome(
        tuple(events),
        tuple(notify),
        RuntimeStatus.FAILED,
        failure.reason,
        custom_status,
        failure,
        discarded_events=prepared.discarded,
    )


def _terminate(prepared: PreparedEpisode, scope: _Scope) -> EpisodeOutcome:
    """ExecutionTerminated was delivered: end without invoking the orchestrator; output = the reason (§7.4)."""
    terminated = prepared.terminated or {}
    reason = terminated.get("Input")
    reason = reason if isinstance(reason, str) else None
    seq = 1 + max((e["EventId"] for e in prepared.history if h.event_type(e) in h.SCHEDULING_EVENTS), default=-1)
    events = [
        *prepared.appended,
        h.orchestrator_completed(scope.now),
        h.execution_completed(seq, RuntimeStatus.TERMINATED, reason, scope.now),
    ]
    notify = _notify_parent(scope, _failed_notice(None), reason or "")
    return EpisodeOutcome(
        tuple(events), tuple(notify), RuntimeStatus.TERMINATED, reason, discarded_events=prepared.discarded
    )


def _failed_notice(details: str | None) -> Callable[[int, str, datetime], HistoryEvent]:
    return lambda task_id, reason, now: h.sub_orchestration_failed(task_id, reason, details, now)


def _notify_parent(scope: _Scope, build: Callable[[int, Any, datetime], HistoryEvent], payload: Any) -> list[WorkItem]:
    parent = scope.instance.parent
    if parent is None:
        return []
    event = build(parent.task_schedule_id, payload, scope.now)
    return [InstanceMessage(parent.instance_id, parent.execution_id, event)]


def _new_work_problem(prepared: PreparedEpisode, new: list[Allocation]) -> str | None:
    """Checks the extension makes while replaying actions: known function names, usable child instance ids."""
    instance, catalog = prepared.input.instance, prepared.input.catalog
    for allocation in new:
        action = allocation.action
        if isinstance(action, CallActivity) and catalog is not None and not catalog.has_activity(action.name):
            return _unknown_function(action.name, "an activity", catalog.activities)
        if isinstance(action, CallSubOrchestrator):
            if catalog is not None and not catalog.has_orchestrator(action.name):
                return _unknown_function(action.name, "an orchestrator", catalog.orchestrators)
            child = _child_instance_id(instance, allocation)
            reserved = {instance.instance_id} | ({instance.parent.instance_id} if instance.parent else set())
            if child in reserved:
                return f"The sub-orchestration instance id '{child}' is this orchestration's or its parent's id."
            problem = instance_id_problem(child)
            if problem is not None:
                return problem
        if isinstance(action, (CallEntity, SignalEntity)):
            try:
                parse_entity_id(action.entity_id)
            except DurableProtocolError as error:
                return str(error)
    return None


def _unknown_function(name: str, kind: str, known: tuple[str, ...]) -> str:
    """The extension's ``ThrowIfFunctionDoesNotExist`` text; ``kind`` is "an activity" or "an orchestrator"."""
    noun = kind.split()[-1]
    message = f"The function '{name}' doesn't exist, is disabled, or is not {kind} function. Additional info: "
    if known:
        return message + f"The following are the known {noun} functions: '" + "', '".join(known) + "'."
    return message + f"No {noun} functions are currently registered!"


# ---- one function per kind of new work ---------------------------------------------------------------------------

Scheduled = tuple[HistoryEvent, WorkItem | None]


def _schedule_activity(scope: _Scope, allocation: Allocation) -> Scheduled:
    action = allocation.action
    assert isinstance(action, CallActivity)
    instance = scope.instance
    event = h.task_scheduled(allocation.seq, action.name, action.input, scope.now)
    return event, ActivityTask(instance.instance_id, instance.execution_id, allocation.seq, action.name, action.input)


def _schedule_http(scope: _Scope, allocation: Allocation) -> Scheduled:
    action = allocation.action
    assert isinstance(action, CallHttp)
    instance = scope.instance
    event = h.task_scheduled(allocation.seq, h.HTTP_ACTIVITY_NAME, json.dumps(action.request), scope.now)
    return event, HttpTask(instance.instance_id, instance.execution_id, allocation.seq, action.request)


def _schedule_timer(scope: _Scope, allocation: Allocation) -> Scheduled:
    fire_at = allocation.fire_at or scope.now
    event = h.timer_created(allocation.seq, fire_at, scope.now)
    if allocation.canceled:  # recorded (the id is used and checked on replay) but never fired
        return event, None
    fired = h.timer_fired(allocation.seq, fire_at, fire_at)
    return event, InstanceMessage(scope.instance.instance_id, scope.instance.execution_id, fired, fire_at)


def _child_instance_id(instance: InstanceSnapshot, allocation: Allocation) -> str:
    action = allocation.action
    assert isinstance(action, CallSubOrchestrator)
    return action.instance_id or f"{instance.execution_id}:{allocation.seq}"


def _schedule_sub_orchestration(scope: _Scope, allocation: Allocation) -> Scheduled:
    action = allocation.action
    assert isinstance(action, CallSubOrchestrator)
    instance = scope.instance
    child_id = _child_instance_id(instance, allocation)
    version = action.version or ""
    event = h.sub_orchestration_created(allocation.seq, action.name, child_id, action.input, scope.now, version)
    parent = ParentInstance(
        instance.name, instance.instance_id, instance.execution_id, allocation.seq, instance.version
    )
    return event, OrchestrationStart(child_id, action.name, action.input, version, parent)


def _send_entity_message(scope: _Scope, allocation: Allocation) -> Scheduled:
    action = allocation.action
    assert isinstance(action, (CallEntity, SignalEntity))
    instance = scope.instance
    entity_id = scheduler_id(*parse_entity_id(action.entity_id))
    is_signal = isinstance(action, SignalEntity)
    # Deterministic and unique per execution and id: a replay never needs it again, but tests can predict it.
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance.instance_id}/{instance.execution_id}/{allocation.seq}"))
    batch_text = json.dumps(action.input if action.input is not None else "null")  # string-in-string (§5.4)
    message = request_message(
        request_id=request_id,
        operation=action.operation,
        input_text=batch_text,
        is_signal=is_signal,
        parent_instance_id=instance.instance_id,
        parent_execution_id=instance.execution_id,
    )
    event = h.event_sent(allocation.seq, entity_id, action.operation, message, scope.now)
    request = EntityRequest(
        entity_id,
        action.operation,
        batch_text,
        is_signal,
        request_id,
        instance.instance_id,
        instance.execution_id,
        message,
        action.scheduled_time if isinstance(action, SignalEntity) else None,
    )
    return event, request


_SCHEDULERS: Mapping[Kind, Callable[[_Scope, Allocation], Scheduled]] = {
    Kind.ACTIVITY: _schedule_activity,
    Kind.HTTP: _schedule_http,
    Kind.TIMER: _schedule_timer,
    Kind.SUB_ORCHESTRATION: _schedule_sub_orchestration,
    Kind.ENTITY_CALL: _send_entity_message,
    Kind.ENTITY_SIGNAL: _send_entity_message,
}


# ---- starting executions -------------------------------------------------------------------------------------------


def child_execution_started(start: OrchestrationStart, execution_id: str, now: datetime) -> HistoryEvent:
    """The ExecutionStarted message for a sub-orchestration the episode asked to start."""
    return h.execution_started(name=start.name, instance_id=start.instance_id, execution_id=execution_id,
                               input_json=h.encode_input(start.input), now=now, version=start.version,
                               parent=start.parent)


def next_execution_events(
    instance: InstanceSnapshot, plan: ContinueAsNewPlan, execution_id: str, now: datetime
) -> list[HistoryEvent]:
    """The first messages of the execution after continue-as-new: ExecutionStarted, then the carried events.

    The engine should also move the instance's undelivered inbox messages to the new execution (carry-over, §7.3).
    """
    started = h.execution_started(name=instance.name, instance_id=instance.instance_id, execution_id=execution_id,
                                  input_json=h.encode_input(plan.input), now=now, version=instance.version,
                                  parent=instance.parent)
    return [started, *(dict(event, IsPlayed=False) for event in plan.carried_events)]
