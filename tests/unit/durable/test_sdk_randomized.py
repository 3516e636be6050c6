"""Randomized interleavings of concurrent retries, fail-fast task_all, task_any and signals (spec §3.3, [P]).

Retry timers and attempts take hidden sequence ids in the order events arrive, so any disagreement between the
shadow replay and the SDK shows up as a result delivered to the wrong task, a non-determinism failure, an SDK
"duplicate completion" warning or a run that never finishes. Each seed is a different schedule.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from overcast.durable.core.model import RuntimeStatus

from .harness import Harness


def stress(context: Any) -> Any:
    plan = context.get_input()
    counter = df.EntityId("Tally", "t")
    tasks = [
        context.call_activity_with_retry("work", df.RetryOptions(interval, attempts), index)
        for index, (interval, attempts) in enumerate(plan["retries"])
    ]
    if plan["signal_first"]:
        context.signal_entity(counter, "add", 1)
    if plan["mode"] == "all":
        try:
            outcome: Any = yield context.task_all(tasks)
        except Exception as error:
            outcome = "failed: " + str(error).split(" \n ")[0]
    else:
        winner = yield context.task_any(tasks)
        outcome = winner.result if isinstance(winner.result, str) else "failed: " + str(winner.result)[:60]
    context.signal_entity(counter, "add", 1)
    tail = yield context.call_activity("work", 100)
    return {"outcome": outcome, "tail": tail}


def tally(context: Any) -> None:
    context.set_state(context.get_state(lambda: 0) + context.get_input())


@pytest.mark.parametrize("seed", range(60))
def test_random_schedules_agree_with_the_sdk(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 4)
    plan = {
        "retries": [[rng.choice([1000, 3000, 7000]), rng.randint(1, 3)] for _ in range(count)],
        "mode": rng.choice(["all", "any"]),
        "signal_first": rng.random() < 0.5,
    }
    failures = {(index, attempt): rng.random() < 0.45 for index in range(count) for attempt in range(1, 4)}
    attempts_made: dict[int, int] = {}

    def work(index: int) -> str:
        attempts_made[index] = attempts_made.get(index, 0) + 1
        if index != 100 and failures[(index, attempts_made[index])]:
            raise RuntimeError(f"attempt {attempts_made[index]} of {index}")
        return f"r{index}"

    harness = Harness(
        {"stress": stress},
        {"work": work},
        entities={"Tally": tally},
        activity_delay=lambda name, value: timedelta(seconds=rng.randint(1, 12)),
    )
    harness.start("stress", plan)
    instance = harness.run(max_steps=2000)["inst"]

    assert instance.status is RuntimeStatus.COMPLETED, instance.output
    output = instance.output_value
    assert output["tail"] == "r100"
    if plan["mode"] == "all" and not str(output["outcome"]).startswith("failed"):
        assert output["outcome"] == [f"r{index}" for index in range(count)]
    if plan["mode"] == "any" and not str(output["outcome"]).startswith("failed"):
        assert output["outcome"] in {f"r{index}" for index in range(count)}
    assert not [w for w in harness.sdk_warnings if "duplicate" in w.lower()]
    assert harness.entities["@tally@t"].state == str(2 if plan["signal_first"] else 1)
    # Every activity attempt the history scheduled ran exactly once, and nothing is left running.
    scheduled = sum(1 for e in instance.history if e["EventType"] == 4)
    assert scheduled == len(harness.activity_calls)
