"""A tiny in-memory host that runs REAL ``azure-functions-durable`` orchestrators and entities through the pure core.

Each episode: ``episode.prepare`` -> ``context_json.build_context`` -> the SDK's own ``Orchestrator.create(fn)``
handle -> ``actions.response_from_*`` -> ``episode.finish``; then the work is simulated on a virtual clock:
activities run at once and their results arrive ``activity_delay`` later, timers fire at their time, sub-orchestrations
are more instances of the same harness, entity batches run through ``Entity.create(fn)``. The loop stops when nothing
is left to deliver. Tests assert on outputs, statuses and the full stored history.
"""

from __future__ import annotations

import json
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import azure.durable_functions as df

from overcast.durable.core import entities as ent
from overcast.durable.core import episode, history
from overcast.durable.core.actions import OrchestratorResponse, response_from_exception, response_from_return
from overcast.durable.core.context_json import ContextSettings, build_context
from overcast.durable.core.model import (
    ActivityTask,
    EntityRequest,
    EpisodeInput,
    EpisodeOutcome,
    FunctionCatalog,
    HttpTask,
    InstanceMessage,
    InstanceSnapshot,
    OrchestrationStart,
    RuntimeStatus,
    WorkItem,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass
class Message:
    visible_at: datetime
    order: int
    execution_id: str | None
    event: dict[str, Any]


@dataclass
class Instance:
    snapshot: InstanceSnapshot
    status: RuntimeStatus = RuntimeStatus.PENDING
    history: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[Message] = field(default_factory=list)
    output: str | None = None
    custom_status: str | None = None
    executions: int = 1
    outcomes: list[EpisodeOutcome] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)
    responses: list[OrchestratorResponse] = field(default_factory=list)

    @property
    def output_value(self) -> Any:
        return None if self.output is None else json.loads(self.output)

    @property
    def custom_status_value(self) -> Any:
        return None if self.custom_status is None else json.loads(self.custom_status)


@dataclass
class EntityRecord:
    exists: bool = False
    state: str | None = None
    queue: list[EntityRequest] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)


class Harness:
    def __init__(
        self,
        orchestrators: dict[str, Callable[..., Any]],
        activities: dict[str, Callable[[Any], Any]] | None = None,
        entities: dict[str, Callable[..., Any]] | None = None,
        http: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        settings: ContextSettings | None = None,
        activity_delay: Callable[[str, Any], timedelta] | None = None,
        check_catalog: bool = True,
        context_patch: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.handles = {name: df.Orchestrator.create(fn) for name, fn in orchestrators.items()}
        self.activities = activities or {}
        self.entity_handles = {name.lower(): df.Entity.create(fn) for name, fn in (entities or {}).items()}
        self.http = http
        self.settings = settings or ContextSettings()
        self.activity_delay = activity_delay or (lambda name, value: timedelta(seconds=1))
        self.catalog = FunctionCatalog(tuple(self.activities), tuple(orchestrators)) if check_catalog else None
        self.context_patch = context_patch  # e.g. to ask for replay schema V1
        self.clock = T0
        self.instances: dict[str, Instance] = {}
        self.entities: dict[str, EntityRecord] = {}
        self.http_requests: list[dict[str, Any]] = []
        self.activity_calls: list[tuple[str, Any]] = []
        self.sdk_warnings: list[str] = []
        self._order = 0

    # ---- driving ---------------------------------------------------------------------------------------------------

    def start(self, name: str, value: Any = None, instance_id: str = "inst", *, input_text: str | None = None) -> str:
        """Start as the Python client does: the input is ``df_dumps(value)`` text (pass ``input_text`` to override)."""
        text = input_text if input_text is not None else (None if value is None else json.dumps(value))
        self._create(OrchestrationStart(instance_id, name, text, "", None))  # type: ignore[arg-type]  # client start
        return instance_id

    def raise_event(self, instance_id: str, name: str, input_text: str | None, at: datetime | None = None) -> None:
        moment = at or self.clock
        self._deliver(instance_id, None, history.event_raised(name, input_text, moment), moment)

    def terminate(self, instance_id: str, reason: str) -> None:
        self._deliver(instance_id, None, history.execution_terminated(reason, self.clock), self.clock)

    def run(self, max_steps: int = 500, stop_when: Callable[[Harness], bool] | None = None) -> Harness:
        """Deliver until nothing is left (or ``stop_when`` holds after an episode)."""
        for _ in range(max_steps):
            if stop_when is not None and stop_when(self):
                return self
            if not self._step():
                return self
        raise AssertionError(f"orchestration did not settle within {max_steps} steps")

    def replace_orchestrator(self, name: str, fn: Callable[..., Any]) -> None:
        """Deploy new orchestrator code mid-flight (to provoke non-determinism)."""
        self.handles[name] = df.Orchestrator.create(fn)

    def __getitem__(self, instance_id: str) -> Instance:
        return self.instances[instance_id]

    # ---- internals ---------------------------------------------------------------------------------------------------

    def _step(self) -> bool:
        for instance in self.instances.values():
            due = [m for m in instance.inbox if m.visible_at <= self.clock]
            if due and not instance.status.is_finished:
                self._episode(instance, sorted(due, key=lambda m: (m.visible_at, m.order)))
                return True
        for entity_id, record in self.entities.items():
            if any((r.scheduled_time or self.clock) <= self.clock for r in record.queue):
                self._entity_batch(entity_id, record)
                return True
        pending = [m.visible_at for i in self.instances.values() if not i.status.is_finished for m in i.inbox]
        pending += [r.scheduled_time for rec in self.entities.values() for r in rec.queue if r.scheduled_time]
        if not pending:
            return False
        self.clock = max(self.clock, min(pending))
        return True

    def _episode(self, instance: Instance, due: list[Message]) -> None:
        for message in due:
            instance.inbox.remove(message)
        events = [m.event for m in due if m.execution_id in (None, instance.snapshot.execution_id)]
        prepared = episode.prepare(EpisodeInput(instance.snapshot, instance.history, events, self.clock, self.catalog))
        response = None
        if prepared.needs_invocation:
            context = json.loads(build_context(prepared, self.settings))
            if self.context_patch is not None:
                self.context_patch(context)
            body = json.dumps(context)
            instance.contexts.append(context)
            response = self._invoke(instance.snapshot.name, body)
            instance.responses.append(response)
        outcome = episode.finish(prepared, response)
        instance.outcomes.append(outcome)
        instance.history.extend(outcome.events)
        instance.status, instance.output, instance.custom_status = outcome.status, outcome.output, outcome.custom_status
        for item in outcome.work:
            self._dispatch(instance, item)
        if outcome.continue_as_new is not None:
            self._continue_as_new(instance, outcome)

    def _invoke(self, name: str, body: str) -> OrchestratorResponse:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return response_from_return(self.handles[name](body))
            except Exception as error:  # the SDK reports orchestrator failures by raising
                return response_from_exception(str(error), traceback.format_exc())
            finally:
                self.sdk_warnings += [str(w.message) for w in caught]

    def _continue_as_new(self, instance: Instance, outcome: EpisodeOutcome) -> None:
        plan = outcome.continue_as_new
        assert plan is not None
        snapshot = instance.snapshot
        execution_id = f"{snapshot.instance_id}-exec{instance.executions}"
        instance.executions += 1
        instance.snapshot = InstanceSnapshot(
            snapshot.instance_id, execution_id, snapshot.name, snapshot.version, snapshot.parent
        )
        instance.history = []
        instance.status = RuntimeStatus.RUNNING
        # Carry-over: undelivered messages not bound to the old execution move to the new one.
        instance.inbox = [m for m in instance.inbox if m.execution_id is None]
        for event in episode.next_execution_events(instance.snapshot, plan, execution_id, self.clock):
            self._deliver(snapshot.instance_id, execution_id, event, self.clock)

    def _dispatch(self, instance: Instance, item: WorkItem) -> None:
        if isinstance(item, ActivityTask):
            self._run_activity(item)
        elif isinstance(item, HttpTask):
            self.http_requests.append(dict(item.request))
            assert self.http is not None, "an HttpTask needs Harness(http=...)"
            result = json.dumps(self.http(dict(item.request)))
            event = history.task_completed(item.task_id, result, self.clock)
            self._deliver(item.instance_id, item.execution_id, event, self.clock + timedelta(seconds=1))
        elif isinstance(item, InstanceMessage):
            self._deliver(item.instance_id, item.execution_id, item.event, item.visible_at or self.clock)
        elif isinstance(item, OrchestrationStart):
            self._create(item)
        elif isinstance(item, EntityRequest):
            self.entities.setdefault(item.entity_id, EntityRecord()).queue.append(item)

    def _run_activity(self, task: ActivityTask) -> None:
        value = None if task.input is None else json.loads(task.input)
        self.activity_calls.append((task.name, value))
        done_at = self.clock + self.activity_delay(task.name, value)
        try:
            result = self.activities[task.name](value)
        except Exception as error:
            reason = history.activity_failed_reason(task.name, f"{type(error).__name__}: {error}")
            event = history.task_failed(task.task_id, reason, "Traceback (most recent call last): ...", done_at)
        else:
            event = history.task_completed(task.task_id, json.dumps(result), done_at)
        self._deliver(task.instance_id, task.execution_id, event, done_at)

    def _create(self, start: OrchestrationStart) -> None:
        parent: Any = start.parent
        existing = self.instances.get(start.instance_id)
        if existing is not None and not existing.status.is_finished:
            assert parent is not None
            reason = f"An Orchestration instance with the status {existing.status.value} already exists."
            event = history.sub_orchestration_failed(parent.task_schedule_id, reason, None, self.clock)
            self._deliver(parent.instance_id, parent.execution_id, event, self.clock)
            return
        execution_id = f"{start.instance_id}-exec0"
        snapshot = InstanceSnapshot(start.instance_id, execution_id, start.name, start.version, parent)
        self.instances[start.instance_id] = Instance(snapshot)
        started = episode.child_execution_started(start, execution_id, self.clock)
        self._deliver(start.instance_id, execution_id, started, self.clock)

    def _deliver(self, instance_id: str, execution_id: str | None, event: dict[str, Any], at: datetime) -> None:
        self._order += 1
        self.instances[instance_id].inbox.append(Message(at, self._order, execution_id, event))

    def _entity_batch(self, entity_id: str, record: EntityRecord) -> None:
        batch = [r for r in record.queue if (r.scheduled_time or self.clock) <= self.clock]
        record.queue = [r for r in record.queue if r not in batch]
        name, key = ent.parse_entity_id(entity_id)
        operations = [ent.EntityOperation.from_request(request) for request in batch]
        payload = ent.build_batch(name, key, record.exists, record.state, operations)
        record.batches.append(payload)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                outcome = ent.parse_batch_response(self.entity_handles[name](payload), len(operations))
            except Exception as error:
                outcome = ent.failed_batch(len(operations), str(error), record.exists, record.state)
            self.sdk_warnings += [str(w.message) for w in caught]
        record.exists, record.state = outcome.exists, outcome.state
        for reply in ent.caller_replies(operations, outcome, self.clock):
            self._deliver(reply.instance_id, reply.execution_id, reply.event, self.clock)


# ---- reading histories ---------------------------------------------------------------------------------------------

_DETAIL_KEYS = {
    history.EventType.EXECUTION_STARTED: "Name",
    history.EventType.EXECUTION_COMPLETED: "OrchestrationStatus",
    history.EventType.EXECUTION_TERMINATED: "Input",
    history.EventType.TASK_SCHEDULED: "Name",
    history.EventType.TASK_COMPLETED: "TaskScheduledId",
    history.EventType.TASK_FAILED: "TaskScheduledId",
    history.EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "Name",
    history.EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
    history.EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "TaskScheduledId",
    history.EventType.TIMER_FIRED: "TimerId",
    history.EventType.EVENT_SENT: "Name",
    history.EventType.EVENT_RAISED: "Name",
}

_SHORT = {
    "ORCHESTRATOR_STARTED": "OS",
    "ORCHESTRATOR_COMPLETED": "OC",
    "EXECUTION_STARTED": "Started",
    "EXECUTION_COMPLETED": "Completed",
    "EXECUTION_TERMINATED": "Terminated",
    "TASK_SCHEDULED": "TaskScheduled",
    "TASK_COMPLETED": "TaskCompleted",
    "TASK_FAILED": "TaskFailed",
    "SUB_ORCHESTRATION_INSTANCE_CREATED": "SubCreated",
    "SUB_ORCHESTRATION_INSTANCE_COMPLETED": "SubCompleted",
    "SUB_ORCHESTRATION_INSTANCE_FAILED": "SubFailed",
    "TIMER_CREATED": "TimerCreated",
    "TIMER_FIRED": "TimerFired",
    "EVENT_SENT": "EventSent",
    "EVENT_RAISED": "EventRaised",
}


def compact(events: list[dict[str, Any]]) -> list[str]:
    """``"TaskScheduled#0 say_hello"`` lines: type, EventId when it is a sequence id, and the telling field."""
    lines = []
    for event in events:
        kind = history.EventType(event["EventType"])
        text = _SHORT.get(kind.name, kind.name)
        if event["EventId"] >= 0:
            text += f"#{event['EventId']}"
        key = _DETAIL_KEYS.get(kind)
        if key is not None:
            text += f" {event.get(key)}"
        lines.append(text)
    return lines


def episodes(events: list[dict[str, Any]]) -> list[list[str]]:
    """The compact history split per episode (OrchestratorStarted ... OrchestratorCompleted), framing left out."""
    result: list[list[str]] = []
    for line in compact(events):
        if line == "OS":
            result.append([])
        elif line != "OC":
            result[-1].append(line)
    return result
