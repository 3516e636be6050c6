"""Fan-out/fan-in: one orchestration calls N ``noop`` activities at once and sums their results (no target).

Overcast side: one ``fan_out`` instance (input N) is created directly in the store, then ``overcast start`` runs (one
instance, its own ``--data-dir``, ``--functions fan_out noop``, default host.json and logging). Time to complete =
the completing commit's ``last_updated_time`` minus the first episode's OrchestratorStarted time (start-up is
outside it); the bench polls the store every 0.1 s for "still running?" and reads the times afterwards. The
history tells how many episodes the engine ran: results that arrive while an episode runs wait in the inbox and
are delivered together to the next one, and each episode replays the whole history so far.

Baselines, in this process, in the same round (the SDK alone, the same handle and the context JSON the engine
builds, the same timestamp parse as the host):
* the same episodes Overcast ran (each one receiving the same results as in the stored history);
* the fewest episodes possible: two (schedule N, then receive all N results at once).

    python bench/durable_fanout.py [--activities 1000] [--rounds 3]

Run with the fast timestamp parse (the default) and with the SDK's own parse (``OVERCAST_DURABLE_FAST_TIMESTAMPS=0``)
in each round.
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
    received_task_ids,
    replay_seconds,
    start,
    stop,
    wait_orchestrations,
)

PUBLISHED = (
    "Azure Storage provider performance targets (Microsoft docs): fan-out 100 activities/s, fan-in 150/s per "
    "instance (targets, not measurements); the performance anchors hold no fan-out figure for Netherite or MSSQL"
)


@dataclass
class FanOutRun:
    seconds: float  # first episode -> completion
    episodes: int
    sdk_same_episodes: float  # seconds the SDK alone takes for the episodes Overcast ran
    sdk_two_episodes: float  # ... for the fewest possible


def fan_out_run(tmp: Path, label: str, count: int, fast: bool) -> FanOutRun:
    data_dir = tmp / f"data-{label}"
    ids = create_orchestrations(data_dir, "fan_out", 1, count, prefix="fanout")
    cmd = [*overcast_cmd(DURABLE_APP, free_port(), data_dir), "--functions", "fan_out", "noop"]
    proc = start(cmd, tmp / f"overcast-{label}.log", env={FAST_TIMESTAMPS: "1" if fast else "0"})
    try:
        wait_orchestrations(data_dir, 600, proc, interval=0.1)
    finally:
        stop(proc)
    (done,) = read_finished(data_dir, ids)
    if done.status != "Completed" or done.output != sum(range(count)):
        raise RuntimeError(f"fan_out ended {done.status} with {done.output!r} (logs: {tmp})")
    fast_timestamps_in_process(fast)
    handle = orchestrator_handle(load_durable_app(), "fan_out")
    same = episode_contexts(handle, "fan_out", count, received_task_ids(done.history))
    fewest = episode_contexts(handle, "fan_out", count)
    replay_seconds(handle, fewest)  # warm-up
    return FanOutRun(done.completed - done.first_episode, done.episodes, replay_seconds(handle, same),
                     replay_seconds(handle, fewest))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-durable-fanout-"))
    runs: dict[bool, list[FanOutRun]] = {True: [], False: []}
    for run in range(args.rounds):
        for fast in (True, False):
            began = time.perf_counter()
            result = fan_out_run(tmp, f"{run}-{'fast' if fast else 'stock'}", args.activities, fast)
            runs[fast].append(result)
            print(
                f"round {run + 1}, {'fast' if fast else 'SDK own'} timestamp parse: {result.seconds:.2f} s "
                f"({args.activities / result.seconds:,.0f} activities/s) in {result.episodes} episodes; the SDK "
                f"alone: {result.sdk_same_episodes:.2f} s for those episodes, {result.sdk_two_episodes:.3f} s for "
                f"two (round trip {time.perf_counter() - began:.1f} s)",
                flush=True,
            )
    fast_timestamps_in_process(False)
    print()
    print(f"durable fan-out/fan-in of {args.activities:,} activities, median of {args.rounds} rounds")
    for fast in (True, False):
        rows = runs[fast]
        seconds = statistics.median(r.seconds for r in rows)
        same = statistics.median(r.sdk_same_episodes for r in rows)
        two = statistics.median(r.sdk_two_episodes for r in rows)
        episodes = statistics.median(r.episodes for r in rows)
        print(f"  {'fast timestamp parse (default)' if fast else 'the SDK own parse (..._TIMESTAMPS=0)'}:")
        print(f"    overcast, first episode -> completion   {seconds:8.2f} s  ({args.activities / seconds:,.0f} "
              f"activities/s, {episodes:g} episodes)")
        print(f"    SDK alone, the same episodes            {same:8.2f} s  (ratio overcast / SDK "
              f"{seconds / same:.1f})")
        print(f"    SDK alone, two episodes                 {two:8.3f} s")
    print(f"  published, for scale only: {PUBLISHED}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
