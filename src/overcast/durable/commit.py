"""What an episode's outcome becomes in the store: one ``EpisodeCommit`` (pure; spec §7.11).

The episode speaks the protocol's vocabulary (work items, history events); the store speaks records and messages.
This module is the only translation between them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from overcast.durable.core import episode
from overcast.durable.core import history as h
from overcast.durable.core.model import (
    ActivityTask,
    EntityRequest,
    EpisodeOutcome,
    HttpTask,
    InstanceMessage,
    InstanceSnapshot,
    OrchestrationStart,
    ParentInstance,
    RuntimeStatus,
)
from overcast.durable.store import (
    ActivityRequest,
    EpisodeCommit,
    HistoryReset,
    InstanceRecord,
    InstanceUpdate,
    NewMessage,
    NewOrchestration,
    ParentRef,
)

ENTITY_OPERATION_EVENT = "op"  # entity operations travel as EventRaised{Name: "op", Input: RequestMessage JSON}


def new_execution_id() -> str:
    return uuid.uuid4().hex


def snapshot(record: InstanceRecord) -> InstanceSnapshot:
    parent = record.parent
    return InstanceSnapshot(
        instance_id=record.instance_id,
        execution_id=record.execution_id,
        name=record.name,
        version=record.version or "",
        parent=None if parent is None else ParentInstance(parent.name, parent.instance_id, parent.execution_id,
                                                          parent.task_scheduled_id),
    )


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _start(start: OrchestrationStart, now: datetime) -> NewOrchestration:
    execution_id = new_execution_id()
    parent = start.parent
    # The id is taken: the parent's call fails as in DTFx instead of the child replacing a running instance.
    refused = h.sub_orchestration_failed(
        parent.task_schedule_id,
        f"An Orchestration instance with the status Running already exists (instance '{start.instance_id}').",
        None, now,
    )
    return NewOrchestration(
        instance_id=start.instance_id,
        name=start.name,
        execution_id=execution_id,
        input=h.encode_input(start.input),  # stored as DTFx does, so the status shows what Azure shows
        started=episode.child_execution_started(start, execution_id, now),
        version=start.version or None,
        parent=ParentRef(parent.instance_id, parent.execution_id, parent.task_schedule_id, parent.name),
        on_conflict=NewMessage(parent.instance_id, refused, parent.execution_id),
    )


def entity_message(request: EntityRequest, now: datetime) -> NewMessage:
    event = h.event_raised(ENTITY_OPERATION_EVENT, request.message, now)
    return NewMessage(request.entity_id, event, visible_at=_timestamp(request.scheduled_time))


def to_commit(consumed: Sequence[int], instance: InstanceSnapshot, outcome: EpisodeOutcome,
              now: datetime) -> EpisodeCommit:
    """The store writes for one episode; a continue-as-new starts the next execution in the same transaction."""
    activities: list[ActivityRequest] = []
    messages: list[NewMessage] = []
    starts: list[NewOrchestration] = []
    for item in outcome.work:
        if isinstance(item, ActivityTask):
            activities.append(ActivityRequest(item.name, item.task_id, item.input))
        elif isinstance(item, HttpTask):
            activities.append(ActivityRequest(h.HTTP_ACTIVITY_NAME, item.task_id, json.dumps(dict(item.request))))
        elif isinstance(item, OrchestrationStart):
            starts.append(_start(item, now))
        elif isinstance(item, EntityRequest):
            messages.append(entity_message(item, now))
        elif isinstance(item, InstanceMessage):
            messages.append(NewMessage(item.instance_id, item.event, item.execution_id, _timestamp(item.visible_at)))
    update = InstanceUpdate(outcome.status.value, outcome.output, outcome.custom_status)
    plan = outcome.continue_as_new
    if outcome.status is RuntimeStatus.CONTINUED_AS_NEW and plan is not None:
        execution_id = new_execution_id()
        for event in episode.next_execution_events(instance, plan, execution_id, now):
            messages.append(NewMessage(instance.instance_id, event, execution_id))
        return EpisodeCommit(consumed=consumed, events=(), update=update,
                             reset=HistoryReset(execution_id, h.encode_input(plan.input)), activities=activities,
                             messages=messages,
                             start=starts)
    return EpisodeCommit(consumed=consumed, events=outcome.events, update=update, activities=activities,
                         messages=messages, start=starts)


_FAILED_COMPLETIONS = {
    int(h.EventType.TASK_FAILED): int(h.EventType.TASK_SCHEDULED),
    int(h.EventType.SUB_ORCHESTRATION_INSTANCE_FAILED): int(h.EventType.SUB_ORCHESTRATION_INSTANCE_CREATED),
}


def rewound_history(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history of a failed execution with its failure removed (rewind, §7.6): the ExecutionCompleted event and
    every failed activity or sub-orchestration, with its scheduling event, so the next replay runs them again."""
    failed: set[tuple[int, Any]] = set()
    for event in history:
        scheduling = _FAILED_COMPLETIONS.get(h.event_type(event))
        if scheduling is not None:
            failed.add((scheduling, event.get("TaskScheduledId")))
    kept = []
    for event in history:
        kind = h.event_type(event)
        if kind == h.EventType.EXECUTION_COMPLETED or kind in _FAILED_COMPLETIONS:
            continue
        if (kind, event.get("EventId")) in failed:
            continue
        kept.append(dict(event))
    return kept
