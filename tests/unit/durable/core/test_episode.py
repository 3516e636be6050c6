"""The episode on hand-built histories and hand-written OrchestratorStates (spec §2.3 examples and §3)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from overcast.durable.core import history as h
from overcast.durable.core.actions import response_from_exception, response_from_return
from overcast.durable.core.episode import finish, next_execution_events, prepare
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
    ParentInstance,
    RuntimeStatus,
)
from overcast.errors import DurableProtocolError

from ..harness import T0, compact

PARENT = ParentInstance("boss", "boss-1", "boss-exec", 7)
INSTANCE = InstanceSnapshot("inst", "exec", "orch", parent=PARENT)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started() -> dict[str, Any]:
    return h.execution_started(name="orch", instance_id="inst", execution_id="exec", input_json=None, now=at(0))


def framed(moment: float, *events: dict[str, Any]) -> list[dict[str, Any]]:
    return [h.orchestrator_started(at(moment)), *events, h.orchestrator_completed(at(moment))]


def activity(name: str, value: Any) -> dict[str, Any]:
    return {"actionType": 0, "functionName": name, "input": json.dumps(value)}


def timer(seconds: float, canceled: bool = False) -> dict[str, Any]:
    return {"actionType": 5, "fireAt": at(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "isCanceled": canceled}


def state(actions: Sequence[dict[str, Any]], done: bool = False, **extra: Any) -> str:
    return json.dumps({"isDone": done, "schemaVersion": 2, "actions": [list(actions)], **extra})


def run(
    past: list[dict[str, Any]],
    new: list[dict[str, Any]],
    response: str,
    now: float = 10,
    instance: InstanceSnapshot = INSTANCE,
    catalog: FunctionCatalog | None = None,
) -> EpisodeOutcome:
    prepared = prepare(EpisodeInput(instance, past, new, at(now), catalog))
    return finish(prepared, response_from_return(response))


CHAIN = [activity("say_hello", "Tokyo"), activity("say_hello", "Seattle"), activity("say_hello", "London")]


def test_chain_third_episode_schedules_the_third_activity() -> None:
    """Spec §2.3 (a): Tokyo done, Seattle just completed -> London gets id 2."""
    past = framed(0, started(), h.task_scheduled(0, "say_hello", '"Tokyo"', at(0)))
    past += framed(
        1, h.task_completed(0, '"Hello Tokyo!"', at(1)), h.task_scheduled(1, "say_hello", '"Seattle"', at(1))
    )
    outcome = run(past, [h.task_completed(1, '"Hello Seattle!"', at(2))], state(CHAIN))
    assert compact(list(outcome.events)) == ["OS", "TaskCompleted 1", "TaskScheduled#2 say_hello", "OC"]
    assert outcome.work == (ActivityTask("inst", "exec", 2, "say_hello", '"London"'),)
    assert outcome.status is RuntimeStatus.RUNNING and outcome.output is None
    assert outcome.events[0]["Timestamp"] == "2024-01-01T00:00:10.0000000Z"


FAN = [{"actionType": 12, "compoundActions": [activity("square", k) for k in range(3)]}]


@pytest.mark.parametrize(
    ("completed_ids", "actions", "new_lines", "work_names"),
    [
        ([1], FAN, [], []),  # §2.3 (b): one of three done, nothing new
        ([1, 2, 0], [*FAN, activity("add_all", [0, 1, 4])], ["TaskScheduled#3 add_all"], ["add_all"]),
    ],
)
def test_fan_out(completed_ids: list[int], actions: list[Any], new_lines: list[str], work_names: list[str]) -> None:
    past = framed(0, started(), *(h.task_scheduled(k, "square", str(k), at(0)) for k in range(3)))
    new = [h.task_completed(k, str(k * k), at(3)) for k in completed_ids]
    outcome = run(past, new, state(actions))
    assert compact(list(outcome.events))[1 + len(new) : -1] == new_lines
    assert [item.name for item in outcome.work if isinstance(item, ActivityTask)] == work_names


def test_timer_fired_completes_with_output_and_notifies_the_parent() -> None:
    """Spec §2.3 (c)."""
    past = framed(0, started(), h.timer_created(0, at(2), at(0)))
    outcome = run(past, [h.timer_fired(0, at(2), at(2))], state([timer(2)], done=True, output="woke"))
    assert outcome.status is RuntimeStatus.COMPLETED and outcome.output == '"woke"'
    completed = outcome.events[-1]
    assert (completed["EventType"], completed["EventId"], completed["OrchestrationStatus"]) == (1, 1, 1)
    assert completed["Result"] == '"woke"'
    notice = outcome.work[0]
    assert isinstance(notice, InstanceMessage) and (notice.instance_id, notice.execution_id) == ("boss-1", "boss-exec")
    assert notice.event["EventType"] == h.EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED
    assert (notice.event["TaskScheduledId"], notice.event["Result"]) == (7, '"woke"')


def test_new_timer_is_recorded_and_its_fire_is_scheduled() -> None:
    outcome = run(framed(0, started()), [], state([timer(30)]), now=0)
    assert compact(list(outcome.events)) == ["OS", "TimerCreated#0", "OC"]
    message = outcome.work[0]
    assert isinstance(message, InstanceMessage) and message.visible_at == at(30)
    assert message.event["TimerId"] == 0 and message.event["FireAt"] == "2024-01-01T00:00:30.0000000Z"


APPROVAL = {"actionType": 11, "compoundActions": [{"actionType": 6, "externalEventName": "Approval"}]}


@pytest.mark.parametrize(("canceled", "status"), [(True, RuntimeStatus.COMPLETED), (False, RuntimeStatus.RUNNING)])
def test_event_beats_timeout_timer(canceled: bool, status: RuntimeStatus) -> None:
    """Spec §2.3 (d): the event wait takes no id; an uncancelled timer keeps the instance Running (§3.5)."""
    past = framed(0, started(), h.timer_created(0, at(30), at(0)))
    actions = [{**APPROVAL, "compoundActions": [*APPROVAL["compoundActions"], timer(30, canceled)]}]
    new = [h.event_raised("Approval", '{"ok": true}', at(5))]
    outcome = run(past, new, state(actions, done=True, output={"approved": {"ok": True}}), now=5)
    assert outcome.status is status
    assert outcome.canceled_timer_ids == ((0,) if canceled else ())
    # Completed tells the parent; Running has nothing new to send (the timer was created before).
    assert [type(item).__name__ for item in outcome.work] == (["InstanceMessage"] if canceled else [])


RETRY = {
    "actionType": 12,
    "compoundActions": [
        {
            "actionType": 1,
            "functionName": "flaky",
            "input": '"x"',
            "retryOptions": {"firstRetryIntervalInMilliseconds": 2000, "maxNumberOfAttempts": 2},
        }
    ],
}


def test_retry_failure_schedules_the_backoff_timer_then_the_next_attempt() -> None:
    past = framed(0, started(), h.task_scheduled(0, "flaky", '"x"', at(0)))
    failed = run(past, [h.task_failed(0, "r", "d", at(1))], state([RETRY]), now=1)
    assert compact(list(failed.events)) == ["OS", "TaskFailed 0", "TimerCreated#1", "OC"]
    assert failed.events[2]["FireAt"] == "2024-01-01T00:00:03.0000000Z"
    past += list(failed.events)
    fired = run(past, [h.timer_fired(1, at(3), at(3))], state([RETRY]), now=3)
    assert compact(list(fired.events)) == ["OS", "TimerFired 1", "TaskScheduled#2 flaky", "OC"]
    past += list(fired.events)
    last = run(past, [h.task_failed(2, "r", "d", at(4))], state([RETRY]), now=4)
    assert compact(list(last.events)) == ["OS", "TaskFailed 2", "TimerCreated#3", "OC"]
    assert last.events[2]["FireAt"] == last.events[2]["Timestamp"]  # the final timer has no delay (§4.4)


SUB = {"actionType": 2, "functionName": "child", "input": '"A"', "instanceId": None, "version": None}


@pytest.mark.parametrize(("given_id", "child_id"), [(None, "exec:0"), ("kid", "kid")])
def test_sub_orchestration_ids_and_parent_info(given_id: str | None, child_id: str) -> None:
    outcome = run(framed(0, started()), [], state([{**SUB, "instanceId": given_id}]), now=0)
    assert outcome.events[1]["InstanceId"] == child_id and outcome.events[1]["Name"] == "child"
    assert outcome.work == (
        OrchestrationStart(child_id, "child", '"A"', "", ParentInstance("orch", "inst", "exec", 0)),
    )


@pytest.mark.parametrize("bad_id", ["inst", "boss-1", "a/b", "@x", ""])
def test_sub_orchestration_id_that_cannot_be_used_fails_the_parent(bad_id: str) -> None:
    outcome = run(framed(0, started()), [], state([{**SUB, "instanceId": bad_id or None}]), now=0)
    if bad_id == "":  # an empty id means "derive one": that is fine
        assert outcome.status is RuntimeStatus.RUNNING
        return
    assert outcome.status is RuntimeStatus.FAILED
    assert outcome.output is not None and outcome.output.startswith("Orchestrator function 'orch' failed: ")


def test_continue_as_new_carries_only_events_after_the_restart_point() -> None:
    past = framed(0, started(), h.timer_created(0, at(5), at(0)))
    new = [h.event_raised("early", "1", at(4)), h.timer_fired(0, at(5), at(5)), h.event_raised("late", "2", at(5))]
    actions = [timer(5), {"actionType": 4, "input": "7"}]
    outcome = run(past, new, state(actions, done=True), now=5)
    assert outcome.status is RuntimeStatus.CONTINUED_AS_NEW
    assert outcome.continue_as_new is not None and outcome.continue_as_new.input == "7"
    assert [e["Name"] for e in outcome.continue_as_new.carried_events] == ["late"]
    completed = outcome.events[-1]
    assert (completed["EventId"], completed["OrchestrationStatus"], completed["Result"]) == (1, 2, "7")
    first = next_execution_events(INSTANCE, outcome.continue_as_new, "exec2", at(6))
    assert compact(first) == ["Started orch", "EventRaised late"]
    assert first[0]["Input"] == '"7"' and first[0]["OrchestrationInstance"]["ExecutionId"] == "exec2"
    assert first[0]["ParentInstance"]["TaskScheduleId"] == 7


ERROR_STATE = state([activity("explode", "y")], error="Activity function 'explode' failed:  RuntimeError: boom y")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            f"Activity function 'explode' failed:  RuntimeError: boom y\n\n$OutOfProcData$:{ERROR_STATE}",
            "Orchestrator function 'orch' failed: Activity function 'explode' failed:  RuntimeError: boom y",
        ),
        (  # the worker's RpcException layout: the state is followed by the stack
            f"Result: Failure\nException: Exception: boom\n\n$OutOfProcData$:{ERROR_STATE}\nStack: at x",
            "Orchestrator function 'orch' failed: Activity function 'explode' failed:  RuntimeError: boom y",
        ),
        (
            "TypeError: crashed outside the SDK",
            "Orchestrator function 'orch' failed: TypeError: crashed outside the SDK",
        ),
    ],
)
def test_orchestrator_failure_reason_and_parent_notice(message: str, reason: str) -> None:
    prepared = prepare(EpisodeInput(INSTANCE, framed(0, started()), [], at(1)))
    outcome = finish(prepared, response_from_exception(message, "Traceback: here"))
    assert outcome.status is RuntimeStatus.FAILED and outcome.output == reason
    assert outcome.failure is not None and outcome.failure.details == "Traceback: here"
    assert compact(list(outcome.events)) == [
        "OS",
        "OC",
        "Completed#1 3" if "$OutOfProc" in message else "Completed#0 3",
    ]
    notice = outcome.work[0]
    assert isinstance(notice, InstanceMessage)
    assert notice.event["EventType"] == h.EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    assert (notice.event["Reason"], notice.event["Details"]) == (reason, "Traceback: here")


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"isDone": "yes", "actions": [[]]}', "'isDone' must be true or false"),
        ('{"isDone": false, "schemaVersion": 2, "actions": [[{"actionType": 42}]]}', "unknown actionType 42"),
    ],
)
def test_unreadable_state_fails_the_instance_with_a_clear_reason(returned: str, problem: str) -> None:
    prepared = prepare(EpisodeInput(INSTANCE, framed(0, started()), [], at(1)))
    outcome = finish(prepared, response_from_return(returned))
    assert outcome.status is RuntimeStatus.FAILED
    assert outcome.output is not None and "unreadable state" in outcome.output and problem in outcome.output


@pytest.mark.parametrize(("custom", "stored"), [(None, None), ({"n": 1}, '{"n": 1}'), ("", '""')])
def test_custom_status_is_stored_as_json_text(custom: Any, stored: str | None) -> None:
    extra = {} if custom is None else {"customStatus": custom}
    outcome = run(framed(0, started()), [], state([], **extra), now=0)
    assert outcome.custom_status == stored


def test_call_http_schedules_the_builtin_http_activity() -> None:
    request = {"method": "GET", "uri": "https://x.test/", "content": None, "headers": None}
    outcome = run(framed(0, started()), [], state([{"actionType": 8, "httpRequest": request}]), now=0)
    assert compact(list(outcome.events))[1] == "TaskScheduled#0 BuiltIn::HttpActivity"
    assert json.loads(outcome.events[1]["Input"]) == request
    assert outcome.work == (HttpTask("inst", "exec", 0, request),)


CALL = {"actionType": 7, "instanceId": "@counter@k", "operation": "get", "input": "null"}
SIGNAL = {"actionType": 9, "instanceId": "@counter@k", "operation": "add", "input": "5"}


def test_entity_signal_and_call_messages() -> None:
    outcome = run(framed(0, started()), [], state([SIGNAL, CALL]), now=0)
    assert compact(list(outcome.events)) == ["OS", "EventSent#0 add", "EventSent#1 get", "OC"]
    signal, call = outcome.work
    assert isinstance(signal, EntityRequest) and isinstance(call, EntityRequest)
    assert (signal.is_signal, signal.input, call.is_signal, call.input) == (True, '"5"', False, '"null"')
    message = json.loads(outcome.events[2]["Input"])
    assert message == {
        "op": "get",
        "input": '"null"',
        "id": call.request_id,
        "parent": "inst",
        "parentExecution": "exec",
    }
    assert json.loads(outcome.events[1]["Input"])["signal"] is True


@pytest.mark.parametrize("is_error", [False, True])
def test_entity_response_completes_the_call_and_unblocks_the_next_action(is_error: bool) -> None:
    past = framed(0, started())
    first = run(past, [], state([CALL]), now=0)
    request_id = json.loads(first.events[1]["Input"])["id"]
    reply = {"result": '"bad"', "exceptionType": "Error"} if is_error else {"result": "3"}
    new = [h.event_raised(request_id, json.dumps(reply), at(1))]
    second = run(past + list(first.events), new, state([CALL, activity("after", 1)]), now=1)
    assert compact(list(second.events))[-2] == "TaskScheduled#1 after"


NON_DETERMINISM = [
    (
        [h.task_scheduled(0, "A", None, at(0))],
        [activity("B", 1)],
        "scheduled an activity task named 'A' with sequence ID 0, but the current orchestration replay instead "
        "produced an activity task named 'B'.",
    ),
    (
        [h.timer_created(0, at(5), at(0))],
        [activity("A", 1)],
        "scheduled a timer task (fire at 2024-01-01T00:00:05.0000000Z) with sequence ID 0, but the current "
        "orchestration replay instead produced an activity task named 'A'.",
    ),
    (
        [h.task_scheduled(0, "A", None, at(0))],
        [],
        "scheduled an activity task named 'A' with sequence ID 0, but the current replay execution hasn't (yet?) "
        "scheduled this task.",
    ),
    (
        [h.sub_orchestration_created(0, "child", "exec:0", None, at(0))],
        [timer(9)],
        "scheduled a sub-orchestration task named 'child' (instance ID 'exec:0') with sequence ID 0, but the current "
        "orchestration replay instead produced a timer task (fire at 2024-01-01T00:00:09.0000000Z).",
    ),
]


@pytest.mark.parametrize(("recorded", "actions", "middle"), NON_DETERMINISM)
def test_non_determinism_names_what_was_recorded_and_what_was_produced(
    recorded: list[dict[str, Any]], actions: list[dict[str, Any]], middle: str
) -> None:
    outcome = run(framed(0, started(), *recorded), [], state(actions))
    assert outcome.status is RuntimeStatus.FAILED
    assert outcome.output == (
        f"Non-Deterministic workflow detected: A previous execution of this orchestration {middle} "
        "Was a change made to the orchestrator code after this instance had already started running?"
    )


def test_duplicate_and_unknown_completions_are_dropped_before_the_sdk_sees_them() -> None:
    past = framed(0, started(), h.task_scheduled(0, "A", None, at(0)))
    past += framed(1, h.task_completed(0, "1", at(1)))
    duplicate, unknown = h.task_completed(0, "1", at(2)), h.timer_fired(9, at(2), at(2))
    prepared = prepare(EpisodeInput(INSTANCE, past, [duplicate, unknown], at(3)))
    assert [e["EventType"] for e in prepared.discarded] == [5, 11]
    assert compact(list(prepared.appended)) == ["OS"]


def test_terminate_needs_no_invocation() -> None:
    prepared = prepare(EpisodeInput(INSTANCE, framed(0, started()), [h.execution_terminated("bye", at(1))], at(1)))
    assert not prepared.needs_invocation
    outcome = finish(prepared, None)
    assert (outcome.status, outcome.output) == (RuntimeStatus.TERMINATED, "bye")
    assert compact(list(outcome.events)) == ["OS", "Terminated bye", "OC", "Completed#0 5"]
    notice = outcome.work[0]
    assert isinstance(notice, InstanceMessage) and notice.event["Reason"] == "bye"


def test_episode_time_never_goes_back_and_never_precedes_a_fired_timer() -> None:
    past = framed(50, started(), h.timer_created(0, at(70), at(50)))
    prepared = prepare(EpisodeInput(INSTANCE, past, [], at(10)))
    assert prepared.now == at(50)
    prepared = prepare(EpisodeInput(INSTANCE, past, [h.timer_fired(0, at(70), at(70))], at(60)))
    assert prepared.now == at(70)


def test_first_episode_puts_execution_started_right_after_orchestrator_started() -> None:
    prepared = prepare(EpisodeInput(INSTANCE, [], [h.event_raised("x", "1", at(0)), started()], at(0)))
    assert compact(list(prepared.history)) == ["OS", "Started orch", "EventRaised x"]
    assert prepared.first_new_index == 0 and not any(e["IsPlayed"] for e in prepared.history)


@pytest.mark.parametrize(
    ("past", "new", "problem"),
    [
        ([], [h.event_raised("x", "1", at(0))], "no ExecutionStarted"),
        (framed(0, started(), h.execution_completed(0, RuntimeStatus.COMPLETED, None, at(0))), [], "already ended"),
    ],
)
def test_prepare_refuses_histories_it_cannot_run(past: list[Any], new: list[Any], problem: str) -> None:
    with pytest.raises(DurableProtocolError, match=problem):
        prepare(EpisodeInput(INSTANCE, past, new, at(1)))


def test_finish_needs_the_response_when_the_orchestrator_had_to_run() -> None:
    prepared = prepare(EpisodeInput(INSTANCE, framed(0, started()), [], at(1)))
    with pytest.raises(DurableProtocolError, match="needs the orchestrator's response"):
        finish(prepared, None)


def test_unknown_activity_fails_with_the_extension_text() -> None:
    outcome = run(framed(0, started()), [], state([activity("nope", 1)]), catalog=FunctionCatalog(("a", "b"), ()))
    assert outcome.output == (
        "Orchestrator function 'orch' failed: The function 'nope' doesn't exist, is disabled, or is not an activity "
        "function. Additional info: The following are the known activity functions: 'a', 'b'."
    )
