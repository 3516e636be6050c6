"""The pure translation from episode outcomes to store commits, and the rewind history."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from overcast.durable.commit import ENTITY_OPERATION_EVENT, rewound_history, to_commit
from overcast.durable.core import history as h
from overcast.durable.core.model import (
    ActivityTask,
    ContinueAsNewPlan,
    EntityRequest,
    EpisodeOutcome,
    HttpTask,
    InstanceMessage,
    InstanceSnapshot,
    OrchestrationStart,
    ParentInstance,
    RuntimeStatus,
)

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
ME = InstanceSnapshot("inst", "exec1", "orch")


def kinds(events: list[dict]) -> list[int]:  # type: ignore[type-arg]
    return [h.event_type(e) for e in events]


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # a failed activity and the failed execution: both go, with the activity's TaskScheduled
        ([h.orchestrator_started(NOW), h.task_scheduled(0, "a", None, NOW), h.orchestrator_completed(NOW),
          h.orchestrator_started(NOW), h.task_failed(0, "boom", None, NOW), h.orchestrator_completed(NOW),
          h.execution_completed(1, RuntimeStatus.FAILED, "boom", NOW)],
         [12, 13, 12, 13]),
        # a successful activity stays; only the failed one is removed
        ([h.task_scheduled(0, "ok", None, NOW), h.task_scheduled(1, "bad", None, NOW), h.task_completed(0, "1", NOW),
          h.task_failed(1, "x", None, NOW)],
         [4, 5]),
        # failed sub-orchestrations too
        ([h.sub_orchestration_created(0, "child", "c1", None, NOW), h.sub_orchestration_failed(0, "x", None, NOW)],
         []),
    ],
)
def test_rewound_history(history: list[dict], expected: list[int]) -> None:  # type: ignore[type-arg]
    assert kinds(rewound_history(history)) == expected


def test_work_items_become_store_writes() -> None:
    parent = ParentInstance("orch", "inst", "exec1", 3)
    outcome = EpisodeOutcome(
        events=(h.orchestrator_started(NOW),),
        work=(
            ActivityTask("inst", "exec1", 0, "hello", '"x"'),
            HttpTask("inst", "exec1", 1, {"method": "GET", "uri": "http://127.0.0.1/"}),
            OrchestrationStart("child", "sub", '"in"', "", parent),
            EntityRequest("@counter@k", "add", '"1"', True, "rid", "inst", "exec1", '{"op": "add"}'),
            InstanceMessage("inst", "exec1", h.timer_fired(2, NOW, NOW), NOW),
        ),
        status=RuntimeStatus.RUNNING,
        custom_status='"s"',
    )
    commit = to_commit([7, 8], ME, outcome, NOW)
    assert list(commit.consumed) == [7, 8]
    assert [(a.name, a.task_id) for a in commit.activities] == [("hello", 0), (h.HTTP_ACTIVITY_NAME, 1)]
    [start] = commit.start
    assert (start.instance_id, start.name, start.parent.task_scheduled_id) == ("child", "sub", 3)  # type: ignore[union-attr]
    assert start.on_conflict is not None and start.on_conflict.instance_id == "inst"
    entity, timer = commit.messages
    assert entity.instance_id == "@counter@k" and entity.event["Name"] == ENTITY_OPERATION_EVENT
    assert timer.visible_at == NOW.timestamp() and timer.execution_id == "exec1"
    assert commit.update is not None and commit.update.runtime_status == "Running"
    assert commit.reset is None


def test_continue_as_new_starts_the_next_execution_in_the_same_commit() -> None:
    carried = h.event_raised("late", '"x"', NOW)
    outcome = EpisodeOutcome(events=(), work=(), status=RuntimeStatus.CONTINUED_AS_NEW,
                             continue_as_new=ContinueAsNewPlan('"2"', (carried,)))
    commit = to_commit([1], ME, outcome, NOW)
    assert commit.reset is not None and commit.reset.input == '"\\"2\\""' and commit.reset.execution_id != "exec1"
    started, late = commit.messages
    assert h.event_type(started.event) == h.EventType.EXECUTION_STARTED
    assert started.execution_id == late.execution_id == commit.reset.execution_id
    assert list(commit.events) == []
