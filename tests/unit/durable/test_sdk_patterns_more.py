"""More end-to-end patterns through the real SDK: retries, sub-orchestrations, continue-as-new, failures,
custom status, call_http, entities, non-determinism and termination."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from overcast.durable.core.history import EventType, parse_timestamp
from overcast.durable.core.model import RuntimeStatus

from .harness import T0, Harness, episodes


def hello(name: str) -> str:
    return f"Hello {name}!"


def flaky_until(success_attempt: int) -> Any:
    calls: list[Any] = []

    def flaky(value: Any) -> str:
        calls.append(value)
        if len(calls) < success_attempt:
            raise RuntimeError(f"boom {len(calls)}")
        return f"ok after {len(calls)}"

    return flaky


def with_retry(context: Any) -> Any:
    try:
        return (yield context.call_activity_with_retry("flaky", df.RetryOptions(2000, 3), "x"))
    except Exception as error:
        return {"caught": str(error).split(" \n ")[0]}


@pytest.mark.parametrize(
    ("success_attempt", "output", "expected_episodes"),
    [
        (
            3,
            "ok after 3",
            [
                ["Started retry", "TaskScheduled#0 flaky"],
                ["TaskFailed 0", "TimerCreated#1"],
                ["TimerFired 1", "TaskScheduled#2 flaky"],
                ["TaskFailed 2", "TimerCreated#3"],
                ["TimerFired 3", "TaskScheduled#4 flaky"],
                ["TaskCompleted 4", "Completed#5 1"],
            ],
        ),
        (
            99,  # never succeeds: 3 attempts, then the final timer the SDK waits for before it throws
            {"caught": "Activity function 'flaky' failed:  RuntimeError: boom 3"},
            [
                ["Started retry", "TaskScheduled#0 flaky"],
                ["TaskFailed 0", "TimerCreated#1"],
                ["TimerFired 1", "TaskScheduled#2 flaky"],
                ["TaskFailed 2", "TimerCreated#3"],
                ["TimerFired 3", "TaskScheduled#4 flaky"],
                ["TaskFailed 4", "TimerCreated#5"],
                ["TimerFired 5", "Completed#6 1"],
            ],
        ),
    ],
)
def test_call_activity_with_retry(success_attempt: int, output: Any, expected_episodes: list[list[str]]) -> None:
    harness = Harness({"retry": with_retry}, {"flaky": flaky_until(success_attempt)})
    harness.start("retry")
    instance = harness.run()["inst"]
    assert instance.output_value == output
    assert episodes(instance.history) == expected_episodes
    timers = [e for e in instance.history if e["EventType"] == EventType.TIMER_CREATED]
    delays = [parse_timestamp(t["FireAt"]) - parse_timestamp(t["Timestamp"]) for t in timers]
    final_delay = [timedelta(0)] if success_attempt > 3 else []
    assert delays == [timedelta(seconds=2)] * 2 + final_delay


def two_retries(context: Any) -> Any:
    first = context.call_activity_with_retry("fail_once", df.RetryOptions(5000, 2), "a")
    second = context.call_activity_with_retry("fail_once", df.RetryOptions(1000, 2), "b")
    return (yield context.task_all([first, second]))


def test_concurrent_retries_take_hidden_ids_in_event_order() -> None:
    """Spec §3.3: both fail, b's shorter timer fires first -> timers 2, 3; b's second attempt 4, a's 5."""
    failed: set[str] = set()

    def fail_once(value: str) -> str:
        if value not in failed:
            failed.add(value)
            raise ValueError(value)
        return value.upper()

    harness = Harness({"two": two_retries}, {"fail_once": fail_once})
    harness.start("two")
    instance = harness.run()["inst"]
    assert instance.output_value == ["A", "B"]
    assert episodes(instance.history) == [
        ["Started two", "TaskScheduled#0 fail_once", "TaskScheduled#1 fail_once"],
        ["TaskFailed 0", "TaskFailed 1", "TimerCreated#2", "TimerCreated#3"],
        ["TimerFired 3", "TaskScheduled#4 fail_once"],
        ["TaskCompleted 4"],
        ["TimerFired 2", "TaskScheduled#5 fail_once"],
        ["TaskCompleted 5", "Completed#6 1"],
    ]


def child(context: Any) -> Any:
    value = context.get_input()
    if value == "bad":
        raise ValueError("child broke")
    greeting = yield context.call_activity("hello", value)
    return {"greeting": greeting, "parent": context.parent_instance_id}


def parent(context: Any) -> Any:
    first = yield context.call_sub_orchestrator("child", "A")
    second = yield context.call_sub_orchestrator("child", "B", instance_id="kid-b")
    try:
        yield context.call_sub_orchestrator("child", "bad")
    except Exception as error:
        return [first, second, str(error).split(" \n ")[0]]
    return "unreachable"


def test_sub_orchestrations_with_and_without_ids_and_failure_propagation() -> None:
    harness = Harness({"parent": parent, "child": child}, {"hello": hello})
    harness.start("parent", instance_id="p")
    harness.run()
    assert harness["p"].output_value == [
        {"greeting": "Hello A!", "parent": "p"},
        {"greeting": "Hello B!", "parent": "p"},
        "Orchestrator function 'child' failed: child broke",
    ]
    assert episodes(harness["p"].history) == [
        ["Started parent", "SubCreated#0 child"],
        ["SubCompleted 0", "SubCreated#1 child"],
        ["SubCompleted 1", "SubCreated#2 child"],
        ["SubFailed 2", "Completed#3 1"],
    ]
    created = [
        e["InstanceId"] for e in harness["p"].history if e["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED
    ]
    assert created == ["p-exec0:0", "kid-b", "p-exec0:2"]
    assert harness["p-exec0:2"].status is RuntimeStatus.FAILED
    started = harness["kid-b"].history[1]
    assert started["ParentInstance"] == {
        "Name": "parent",
        "Version": "",
        "TaskScheduleId": 1,
        "OrchestrationInstance": {"InstanceId": "p", "ExecutionId": "p-exec0"},
    }
    assert harness["kid-b"].contexts[0]["input"] == '"B"'  # the action's text; get_input() gives "B"
    assert started["Input"] == json.dumps('"B"')


def retrying_parent(context: Any) -> Any:
    return (yield context.call_sub_orchestrator_with_retry("picky", df.RetryOptions(1000, 3), None))


def picky(context: Any) -> Any:
    if not context.instance_id.endswith(":4"):
        raise ValueError(f"not {context.instance_id}")
    yield context.create_timer(context.current_utc_datetime)
    return context.instance_id


def test_sub_orchestration_retry_creates_a_new_child_per_attempt() -> None:
    harness = Harness({"retrying_parent": retrying_parent, "picky": picky})
    harness.start("retrying_parent", instance_id="rp")
    assert harness.run()["rp"].output_value == "rp-exec0:4"
    assert [i for i in harness.instances if i != "rp"] == ["rp-exec0:0", "rp-exec0:2", "rp-exec0:4"]


def counting(context: Any) -> Any:
    total = context.get_input()
    total += yield context.wait_for_external_event("add")
    if total >= 3:
        return total
    context.continue_as_new(total)
    return None


def test_continue_as_new_carries_unseen_events_into_the_next_execution() -> None:
    harness = Harness({"counting": counting})
    harness.start("counting", 0)
    for _ in range(3):  # all three arrive together; the first execution sees only the first
        harness.raise_event("inst", "add", "1", at=T0 + timedelta(seconds=1))
    instance = harness.run()["inst"]
    assert [o.status for o in instance.outcomes] == [
        RuntimeStatus.RUNNING,
        RuntimeStatus.CONTINUED_AS_NEW,
        RuntimeStatus.CONTINUED_AS_NEW,
        RuntimeStatus.COMPLETED,
    ]
    assert instance.output_value == 3
    carried = [len(o.continue_as_new.carried_events) for o in instance.outcomes if o.continue_as_new]
    assert carried == [2, 1]
    assert episodes(instance.history) == [["Started counting", "EventRaised add", "Completed#0 1"]]
    assert instance.history[1]["Input"] == json.dumps("2")  # DTFx stores the action's input text JSON-encoded
    assert instance.snapshot.execution_id == "inst-exec2"


def signal_then_continue(context: Any) -> Any:
    generation = context.get_input()
    context.signal_entity(df.EntityId("Counter", "c"), "add", 1)
    if generation == 2:
        return generation
    context.continue_as_new(generation + 1)
    return None


def counter_entity(context: Any) -> None:
    current = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        current += context.get_input()
    elif operation == "fail":
        raise ValueError("bad op")
    context.set_state(current)
    context.set_result(current)


def test_continue_as_new_still_sends_what_the_execution_scheduled() -> None:
    harness = Harness({"loop": signal_then_continue}, entities={"Counter": counter_entity})
    harness.start("loop", 0)
    harness.run()
    assert harness["inst"].output_value == 2
    assert harness.entities["@counter@c"].state == "3"


def entity_user(context: Any) -> Any:
    counter = df.EntityId("Counter", "k1")
    pending = context.call_activity("hello", "x")
    context.signal_entity(counter, "add", 5)  # takes its id at call time: 0, the activity then gets 1
    yield pending
    value = yield context.call_entity(counter, "add", 10)
    try:
        yield context.call_entity(counter, "fail")
    except Exception as error:
        return [value, str(error)]
    return "unreachable"


def test_entity_signal_and_call_from_an_orchestration() -> None:
    harness = Harness({"entity_user": entity_user}, {"hello": hello}, entities={"Counter": counter_entity})
    harness.start("entity_user")
    instance = harness.run()["inst"]
    assert instance.output_value == [15, "bad op"]
    lines = episodes(instance.history)
    assert lines[0] == ["Started entity_user", "EventSent#0 add", "TaskScheduled#1 hello"]
    assert lines[1] == ["TaskCompleted 1", "EventSent#2 add"]
    assert lines[2][0].startswith("EventRaised ") and lines[2][1] == "EventSent#3 fail"
    record = harness.entities["@counter@k1"]
    assert (record.exists, record.state) == (True, "15")
    first_batch = json.loads(record.batches[0])
    assert first_batch["batch"] == [{"name": "add", "input": '"5"', "isSignal": True}]
    sent = json.loads(next(e for e in instance.history if e["EventType"] == EventType.EVENT_SENT)["Input"])
    assert sent["signal"] is True and sent["input"] == '"5"' and sent["parent"] == "inst"


def fetch(context: Any) -> Any:
    return (yield context.call_http("POST", "https://example.test/api", content={"q": 1}, headers={"X": "1"}))


def test_call_http_schedules_the_builtin_activity() -> None:
    def respond(request: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "content": "made"}

    harness = Harness({"fetch": fetch}, http=respond)
    harness.start("fetch")
    instance = harness.run()["inst"]
    assert instance.output_value == {"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "content": "made"}
    assert harness.http_requests == [
        {"method": "POST", "uri": "https://example.test/api", "content": '{"q": 1}', "headers": {"X": "1"}}
    ]
    assert episodes(instance.history)[0] == ["Started fetch", "TaskScheduled#0 BuiltIn::HttpActivity"]


def raises(message: str) -> Any:
    def orchestrator(context: Any) -> Any:
        yield context.call_activity("hello", "x")
        raise ValueError(message)

    return orchestrator


def returns_a_set(context: Any) -> Any:
    yield context.call_activity("hello", "x")
    return {1, 2}


def uses_unknown_activity(context: Any) -> Any:
    return (yield context.call_activity("nope", 1))


@pytest.mark.parametrize(
    ("orchestrator", "reason"),
    [
        (raises("boom"), "Orchestrator function 'orch' failed: boom"),
        (raises(""), "Orchestrator function 'orch' failed: <class 'ValueError'>"),
        (returns_a_set, "Orchestrator function 'orch' failed: Object of type set is not JSON serializable"),
        (
            uses_unknown_activity,
            "Orchestrator function 'orch' failed: The function 'nope' doesn't exist, is disabled, or is not an "
            "activity function. Additional info: The following are the known activity functions: 'hello'.",
        ),
    ],
)
def test_failure_reason_texts_reach_status_history_and_parent(orchestrator: Any, reason: str) -> None:
    def calls_orch(context: Any) -> Any:
        try:
            yield context.call_sub_orchestrator("orch", None, instance_id="child")
        except Exception as error:
            return str(error).split(" \n ")[0]
        return "unreachable"

    harness = Harness({"calls_orch": calls_orch, "orch": orchestrator}, {"hello": hello})
    harness.start("calls_orch", instance_id="top")
    harness.run()
    child_instance = harness["child"]
    assert child_instance.status is RuntimeStatus.FAILED
    assert child_instance.output == reason
    assert child_instance.history[-1]["Result"] == reason
    assert harness["top"].output_value == reason


def custom_status(context: Any) -> Any:
    context.set_custom_status({"stage": 1})
    yield context.call_activity("hello", "x")
    context.set_custom_status(0)  # falsy: the SDK drops it
    yield context.call_activity("hello", "y")
    context.set_custom_status("final")
    return None


def test_custom_status_follows_each_episode() -> None:
    harness = Harness({"status": custom_status}, {"hello": hello})
    harness.start("status")
    instance = harness.run()["inst"]
    assert [o.custom_status for o in instance.outcomes] == ['{"stage": 1}', None, '"final"']
    assert instance.output is None and instance.status is RuntimeStatus.COMPLETED


def changed_chain(context: Any) -> Any:
    yield context.call_activity("hello", "Tokyo")
    yield context.call_activity("goodbye", "Seattle")
    return None


def original_chain(context: Any) -> Any:
    yield context.call_activity("hello", "Tokyo")
    yield context.call_activity("hello", "Seattle")
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    return None


def test_code_change_mid_flight_fails_as_non_deterministic_naming_both_sides() -> None:
    harness = Harness({"chain": original_chain}, {"hello": hello, "goodbye": hello})
    harness.start("chain")
    harness.run(stop_when=lambda h: len(h["inst"].outcomes) == 2)  # hello#0 done, hello#1 scheduled
    harness.replace_orchestrator("chain", changed_chain)
    instance = harness.run()["inst"]
    assert instance.status is RuntimeStatus.FAILED
    assert instance.output == (
        "Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task "
        "named 'hello' with sequence ID 1, but the current orchestration replay instead produced an activity task "
        "named 'goodbye'. Was a change made to the orchestrator code after this instance had already started running?"
    )
    assert instance.history[-1]["FailureDetails"]["ErrorType"] == "NonDeterministicOrchestrationException"


def waits(context: Any) -> Any:
    return (yield context.wait_for_external_event("never"))


def test_terminate_ends_without_invoking_and_tells_the_parent() -> None:
    def top(context: Any) -> Any:
        try:
            yield context.call_sub_orchestrator("waits", None, instance_id="w")
        except Exception as error:
            return str(error).split(" \n ")[0]
        return "unreachable"

    harness = Harness({"top": top, "waits": waits})
    harness.start("top", instance_id="t")
    harness.run()
    assert harness["w"].status is RuntimeStatus.RUNNING
    invocations = len(harness["w"].contexts)
    harness.terminate("w", "stopped by test")
    harness.run()
    assert harness["w"].status is RuntimeStatus.TERMINATED and harness["w"].output == "stopped by test"
    assert len(harness["w"].contexts) == invocations
    assert episodes(harness["w"].history)[-1] == ["Terminated stopped by test", "Completed#0 5"]
    assert harness["t"].output_value == "stopped by test"
