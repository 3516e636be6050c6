"""Shadow replay: which sequence id the SDK gave to which task (spec §3.3, "host algorithm").

The SDK numbers its tasks itself and matches completions by id, so the host must hand out the *same* ids. It
re-derives them by walking the history next to the action list: a top-level action is started only once the
previously started blocking action is done in SDK terms (WhenAll fails fast, WhenAny completes on the first child,
retries run their hidden timers and attempts). Signals take an id without blocking. Starting an action gives ids
to its leaves depth-first; external-event waits take none. After the last event everything left is started.

The result lists every allocation; those not yet recorded in history are this episode's new work, and recorded ids
that disagree with the allocation are non-determinism (checked by ``episode``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overcast.config import json_text
from overcast.durable.core import actions as act
from overcast.durable.core.history import (
    COMPLETION_EVENTS,
    SCHEDULING_EVENTS,
    EventType,
    completed_id,
    event_time,
    event_type,
)
from overcast.durable.core.model import HistoryEvent


class Kind(enum.Enum):
    ACTIVITY = "activity"
    HTTP = "http"
    TIMER = "timer"
    SUB_ORCHESTRATION = "sub-orchestration"
    ENTITY_CALL = "entity call"
    ENTITY_SIGNAL = "entity signal"


@dataclass(slots=True)
class Allocation:
    """One sequence id as the SDK assigned it. ``action`` is the source action (a retry's attempts share it)."""

    seq: int
    kind: Kind
    action: act.Action | None
    fire_at: datetime | None = None
    canceled: bool = False
    completed: bool = False

    @property
    def is_open(self) -> bool:
        """Counts as an open DTFx task (keeps a done orchestration Running, spec §3.5)."""
        if self.completed or self.kind in (Kind.ENTITY_CALL, Kind.ENTITY_SIGNAL):
            return False
        return not (self.kind is Kind.TIMER and self.canceled)


class _Node:
    __slots__ = ("done", "failed", "parent")

    def __init__(self) -> None:
        self.parent: _Node | None = None
        self.done = False
        self.failed = False

    def finish(self, replay: ShadowReplay, failed: bool) -> None:
        if self.done:
            return
        self.done, self.failed = True, failed
        if self.parent is not None:
            self.parent.child_finished(replay, self)

    def child_finished(self, replay: ShadowReplay, child: _Node) -> None:  # pragma: no cover - leaves have none
        pass

    def start(self, replay: ShadowReplay) -> None:
        """Take ids (depth-first) and register for completions."""


class _Leaf(_Node):
    __slots__ = ("action", "allocation", "kind")

    def __init__(self, kind: Kind, action: act.Action) -> None:
        super().__init__()
        self.kind, self.action = kind, action
        self.allocation: Allocation | None = None

    def start(self, replay: ShadowReplay) -> None:
        fire_at = self.action.fire_at if isinstance(self.action, act.CreateTimer) else None
        canceled = isinstance(self.action, act.CreateTimer) and self.action.is_canceled
        self.allocation = replay.allocate(self, self.kind, self.action, fire_at, canceled)


class _Wait(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def start(self, replay: ShadowReplay) -> None:
        replay.add_waiter(self)


class _Compound(_Node):
    __slots__ = ("children", "first_wins")

    def __init__(self, children: list[_Node], first_wins: bool) -> None:
        super().__init__()
        self.children, self.first_wins = children, first_wins
        for child in children:
            child.parent = self

    def start(self, replay: ShadowReplay) -> None:
        if not self.children:
            self.finish(replay, failed=False)
        for child in self.children:
            child.start(replay)

    def child_finished(self, replay: ShadowReplay, child: _Node) -> None:
        if self.first_wins:  # WhenAny: the first child to finish, success or failure, completes it
            self.finish(replay, failed=False)
        elif child.failed:  # WhenAll fails fast
            self.finish(replay, failed=True)
        elif all(sibling.done and not sibling.failed for sibling in self.children):
            self.finish(replay, failed=False)


class _Retry(_Node):
    """A -WithRetry task: attempt, on failure a timer, when it fires the next attempt or (after the last) failure."""

    __slots__ = ("action", "attempts", "kind", "policy", "waiting_timer")

    def __init__(self, kind: Kind, action: act.CallActivity | act.CallSubOrchestrator, policy: act.RetryPolicy) -> None:
        super().__init__()
        self.kind, self.action, self.policy = kind, action, policy
        self.attempts = 1
        self.waiting_timer = False

    def start(self, replay: ShadowReplay) -> None:
        self._attempt(replay)

    def _attempt(self, replay: ShadowReplay) -> None:
        attempt = _Leaf(self.kind, self.action)
        attempt.parent = self
        attempt.start(replay)

    def child_finished(self, replay: ShadowReplay, child: _Node) -> None:
        if self.done:
            return
        if self.waiting_timer:
            self.waiting_timer = False
            if self.attempts >= self.policy.max_attempts:
                self.finish(replay, failed=True)
            else:
                self.attempts += 1
                self._attempt(replay)
        elif not child.failed:
            self.finish(replay, failed=False)
        else:
            # The timer after the last attempt still exists (the SDK waits for it) but has no delay (spec §4.4).
            last = self.attempts >= self.policy.max_attempts
            fire_at = replay.now if last else replay.now + self.policy.delay_after(self.attempts)
            self.waiting_timer = True
            timer = _Node()
            timer.parent = self
            replay.allocate(timer, Kind.TIMER, None, fire_at, canceled=False)


def _build(action: act.Action) -> _Node:
    if isinstance(action, (act.WhenAll, act.WhenAny)):
        return _Compound([_build(child) for child in action.children], isinstance(action, act.WhenAny))
    if isinstance(action, act.WaitForExternalEvent):
        return _Wait(action.name)
    if isinstance(action, act.ContinueAsNew):  # parse_action rejects it inside compounds; inert if it gets here
        done = _Node()
        done.done = True
        return done
    if isinstance(action, (act.CallActivity, act.CallSubOrchestrator)):
        kind = Kind.ACTIVITY if isinstance(action, act.CallActivity) else Kind.SUB_ORCHESTRATION
        return _Retry(kind, action, action.retry) if action.retry is not None else _Leaf(kind, action)
    return _Leaf(_LEAF_KINDS[type(action)], action)


_LEAF_KINDS: dict[type, Kind] = {
    act.CreateTimer: Kind.TIMER,
    act.CallEntity: Kind.ENTITY_CALL,
    act.SignalEntity: Kind.ENTITY_SIGNAL,
    act.CallHttp: Kind.HTTP,
}


@dataclass(slots=True)
class ShadowReplay:
    """Walk ``history`` next to ``top_actions``; read ``allocations``, ``recorded`` and the continue-as-new point."""

    top_actions: Sequence[act.Action]
    first_new_index: int
    now: datetime
    counter: int = 0
    allocations: dict[int, Allocation] = field(default_factory=dict)
    recorded: dict[int, HistoryEvent] = field(default_factory=dict)
    continue_as_new: act.ContinueAsNew | None = None
    carried_events: list[HistoryEvent] = field(default_factory=list)
    _cursor: int = 0
    _blocking: _Node | None = None
    _leaves: dict[int, _Node] = field(default_factory=dict)
    _deferred: dict[int, bool] = field(default_factory=dict)
    _request_ids: dict[int, str] = field(default_factory=dict)
    _entity_calls: dict[str, _Node] = field(default_factory=dict)
    _waiters: dict[str, list[_Wait]] = field(default_factory=dict)
    _buffered: set[str] = field(default_factory=set)
    _continue_reached: bool = False

    def run(self, history: Sequence[HistoryEvent]) -> ShadowReplay:
        for index, event in enumerate(history):
            self._process(event, is_new=index >= self.first_new_index)
        self._advance(force=True)
        return self

    # ---- walking the history -----------------------------------------------------------------------------------

    def _process(self, event: HistoryEvent, *, is_new: bool) -> None:
        kind = event_type(event)
        if kind == EventType.ORCHESTRATOR_STARTED:
            moment = event_time(event)
            if moment is not None and moment > self.now:
                self.now = moment
        elif kind in SCHEDULING_EVENTS:
            self._record(event)
        elif self._continue_reached:
            # The SDK stops reading at continue-as-new; external events it never saw go to the next execution.
            if kind == EventType.EVENT_RAISED and is_new and event.get("Name") not in self._entity_calls:
                self.carried_events.append(event)
        elif kind == EventType.EXECUTION_STARTED:
            self._advance()
        elif kind in COMPLETION_EVENTS:
            seq = completed_id(event)
            if seq is not None:
                self._complete(seq, success=COMPLETION_EVENTS[kind][1])
            self._advance()
        elif kind == EventType.EVENT_RAISED:
            self._raise(event)
            self._advance()

    def _record(self, event: HistoryEvent) -> None:
        seq = event.get("EventId")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return
        self.recorded[seq] = event
        if event_type(event) == EventType.EVENT_SENT:
            request_id = _request_id(event)
            if request_id is not None:
                self._request_ids[seq] = request_id
                self._link_entity_call(seq)

    def _complete(self, seq: int, *, success: bool) -> None:
        node = self._leaves.pop(seq, None)
        if node is None:
            if seq not in self.allocations:  # completion before the id exists: apply it when it does (as the SDK)
                self._deferred[seq] = success
            return
        self.allocations[seq].completed = True
        node.finish(self, failed=not success)

    def _raise(self, event: HistoryEvent) -> None:
        name = event.get("Name")
        if not isinstance(name, str):
            return
        call = self._entity_calls.pop(name, None)
        if call is not None:
            call.finish(self, failed=_is_entity_error(event.get("Input")))
            return
        waiters = self._waiters.get(name)
        if waiters:
            waiters.pop().finish(self, failed=False)  # the SDK resolves the most recent waiter
        else:
            self._buffered.add(name)  # a later waiter completes from it; the SDK never forgets it

    # ---- starting actions ----------------------------------------------------------------------------------------

    def _advance(self, force: bool = False) -> None:
        while self._cursor < len(self.top_actions):
            if not force and self._blocking is not None and not self._blocking.done:
                return
            action = self.top_actions[self._cursor]
            self._cursor += 1
            if isinstance(action, act.SignalEntity):  # takes its id at call time and never blocks
                self.allocate(_Node(), Kind.ENTITY_SIGNAL, action, None, canceled=False)
            elif isinstance(action, act.ContinueAsNew):
                self.continue_as_new = action
                self._continue_reached = True
            else:
                node = _build(action)
                self._blocking = node
                node.start(self)

    def allocate(
        self, node: _Node, kind: Kind, action: act.Action | None, fire_at: datetime | None, canceled: bool
    ) -> Allocation:
        seq = self.counter
        self.counter += 1
        allocation = Allocation(seq, kind, action, fire_at, canceled)
        self.allocations[seq] = allocation
        if kind is Kind.ENTITY_CALL:
            self._leaves[seq] = node  # completed by EventRaised{Name: request id}, linked through EventSent
            self._link_entity_call(seq)
        elif kind is not Kind.ENTITY_SIGNAL:
            self._leaves[seq] = node
            if seq in self._deferred:
                self._complete(seq, success=self._deferred.pop(seq))
        return allocation

    def _link_entity_call(self, seq: int) -> None:
        allocation = self.allocations.get(seq)
        if allocation is not None and allocation.kind is Kind.ENTITY_CALL and seq in self._request_ids:
            node = self._leaves.pop(seq, None)
            if node is not None:
                self._entity_calls[self._request_ids[seq]] = node

    def add_waiter(self, waiter: _Wait) -> None:
        self._waiters.setdefault(waiter.name, []).append(waiter)
        if waiter.name in self._buffered:
            self._waiters[waiter.name].pop().finish(self, failed=False)

    # ---- results ---------------------------------------------------------------------------------------------------

    def open_task_ids(self) -> list[int]:
        return [seq for seq, allocation in self.allocations.items() if allocation.is_open]

    def entity_call_request_ids(self) -> dict[int, str]:
        return dict(self._request_ids)


def _request_id(event: HistoryEvent) -> str | None:
    try:
        message = json_text.loads(event.get("Input") or "")
    except (TypeError, ValueError):
        return None
    request_id = message.get("id") if isinstance(message, dict) else None
    return request_id if isinstance(request_id, str) else None


def _is_entity_error(payload: Any) -> bool:
    try:
        response = json_text.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        return False
    return isinstance(response, dict) and "exceptionType" in response
