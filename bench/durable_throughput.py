"""HelloSequence5 orchestrations/s through ``overcast start`` on the embedded SQLite store, against the durable SDK's
own replay-only rate measured in this process in the same round.

Overcast side: N instances of ``chain5`` (five ``noop`` activities one after another) are created directly in the
store (``create_instance`` with the ExecutionStarted message the client API writes; no HTTP), then ``overcast
start`` runs (one instance, its own ``--data-dir``, ``--functions chain5 noop``, default host.json and logging) and
works through all of them concurrently. Nothing is written per call: the bench polls the store every 0.25 s for
"anything still Pending/Running?", and afterwards reads each instance's times from the store. The window runs from
the first episode (the earliest first OrchestratorStarted, the engine's clock as it began the episode) to the last
completion (the latest ``last_updated_time``, written by the completing commit): start-up is outside it. Every
instance must end Completed with output [0, 1, 2, 3, 4].

Baseline, in this process, in the same round: the SDK alone replaying the same orchestration N times, every
episode exactly as the engine calls it: the 6 context JSON texts of one chain5 (growing histories, built by
``episode.prepare`` + ``context_json.build_context``, not timed) passed to the very ``Orchestrator.create(fn)``
handle ``df.DFApp`` registered for the app's ``chain5``. Only the SDK calls are timed.

Both sides are measured with the SDK's own dateutil timestamp parse (stock, ``OVERCAST_DURABLE_FAST_TIMESTAMPS=0``
for the host) and with Overcast's fast parse (the host's default). The target compares Overcast (default, fast
parse) with the stock SDK rate; the like-for-like ratios are printed too.

    python bench/durable_throughput.py [--orchestrations 300] [--rounds 3] [-- <overcast start options>]

Target (issue): Overcast >= 0.7 of the SDK's replay-only rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DURABLE_APP,
    FAST_TIMESTAMPS,
    command_line,
    create_orchestrations,
    episode_contexts,
    fast_timestamps_in_process,
    free_port,
    load_durable_app,
    orchestrator_handle,
    overcast_cmd,
    read_finished,
    replay_seconds,
    start,
    stop,
    wait_orchestrations,
)

TARGET = 0.7
ACTIVITIES = 5
EXPECTED_OUTPUT = list(range(ACTIVITIES))
PUBLISHED = (
    "HelloSequence5, one node: Azure Storage 45 orch/s (EP2, Netherite docs 2021) / 24.5 (EP2, Netherite paper "
    "artifact); Netherite 171 (EP2, docs) / 87 (EP2, artifact); MSSQL 8-9 (EP1) ... 37 (EP3 + 8 SQL vCores, "
    "durabletask-mssql docs v0.4.0-alpha)"
)


@dataclass
class HostRun:
    rate: float  # orchestrations/s, first episode -> last completion
    window: float
    spawn_to_first_episode: float


def sdk_rate(count: int, fast: bool) -> float:
    """Orchestrations/s of the SDK replaying every episode of ``count`` chain5 orchestrations, in this process."""
    fast_timestamps_in_process(fast)
    handle = orchestrator_handle(load_durable_app(), "chain5")
    contexts = episode_contexts(handle, "chain5")
    replay_seconds(handle, contexts, max(1, count // 10))  # warm-up
    return count / replay_seconds(handle, contexts, count)


def overcast_run(tmp: Path, label: str, count: int, fast: bool, extra_args: list[str]) -> HostRun:
    data_dir = tmp / f"data-{label}"
    ids = create_orchestrations(data_dir, "chain5", count)
    cmd = [*overcast_cmd(DURABLE_APP, free_port(), data_dir), "--functions", "chain5", "noop", *extra_args]
    spawned = time.time()
    proc = start(cmd, tmp / f"overcast-{label}.log", env={FAST_TIMESTAMPS: "1" if fast else "0"})
    try:
        wait_orchestrations(data_dir, 600, proc)
    finally:
        stop(proc)
    finished = read_finished(data_dir, ids)
    wrong = [f for f in finished if f.status != "Completed" or f.output != EXPECTED_OUTPUT]
    if wrong:
        raise RuntimeError(f"{len(wrong)} instances did not complete as expected, e.g. {wrong[0].instance_id}: "
                           f"{wrong[0].status} {wrong[0].output!r} (logs: {tmp})")
    first = min(f.first_episode for f in finished)
    window = max(f.completed for f in finished) - first
    return HostRun(count / window, window, first - spawned)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orchestrations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overcast_args", nargs="*", help="extra `overcast start` options (after --)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-durable-throughput-"))
    count = args.orchestrations
    rows: list[tuple[float, float, HostRun, HostRun]] = []  # (sdk stock, sdk fast, overcast fast, overcast stock)
    for run in range(args.rounds):
        sdk_stock = sdk_rate(count, fast=False)
        fast_run = overcast_run(tmp, f"{run}-fast", count, True, args.overcast_args)
        sdk_fast = sdk_rate(count, fast=True)
        stock_run = overcast_run(tmp, f"{run}-stock", count, False, args.overcast_args)
        rows.append((sdk_stock, sdk_fast, fast_run, stock_run))
        print(
            f"round {run + 1}: SDK replay {sdk_stock:,.0f}/s (fast parse {sdk_fast:,.0f}/s); overcast "
            f"{fast_run.rate:,.0f}/s (window {fast_run.window:.2f} s, spawn to first episode "
            f"{fast_run.spawn_to_first_episode:.2f} s), with the SDK's own parse {stock_run.rate:,.0f}/s; "
            f"ratio {fast_run.rate / sdk_stock:.2f}",
            flush=True,
        )
    fast_timestamps_in_process(False)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    sdk_stock, sdk_fast = med([r[0] for r in rows]), med([r[1] for r in rows])
    ours_fast, ours_stock = med([r[2].rate for r in rows]), med([r[3].rate for r in rows])
    ratio = med([r[2].rate / r[0] for r in rows])
    stock_ratio = med([r[3].rate / r[0] for r in rows])
    fast_ratio = med([r[2].rate / r[1] for r in rows])
    print()
    print(f"durable throughput, {count:,} HelloSequence5 started at once, median of {args.rounds} rounds")
    print(f"  {'':48} {'orch/s':>9} {'activities/s':>13}")
    for name, value in (
        ("SDK replay only, its own dateutil parse", sdk_stock),
        ("SDK replay only, fast timestamp parse", sdk_fast),
        ("overcast, fast timestamp parse (default)", ours_fast),
        ("overcast, SDK's own parse (..._TIMESTAMPS=0)", ours_stock),
    ):
        print(f"  {name:48} {value:>9,.0f} {value * ACTIVITIES:>13,.0f}")
    print(f"  ratio overcast (default) / SDK replay (stock): {ratio:.2f}  "
          f"(target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
    print(f"  ratio overcast / SDK replay, both with the SDK's own parse: {stock_ratio:.2f}")
    print(f"  ratio overcast / SDK replay, both with the fast parse: {fast_ratio:.2f}")
    print(f"  published, for scale only: {PUBLISHED}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
