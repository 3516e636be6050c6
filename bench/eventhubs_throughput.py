"""Event Hubs through the host on the embedded SQLite store: events/s with ``cardinality="many"`` against the raw
store, and send-through-the-host to function start latency.

Throughput. Overcast side: N events are appended to the 4 partitions of ``bench-throughput`` with the store's own
``send`` in batches of 100 (not timed), then ``overcast start`` (one instance, its own ``--data-dir``,
``--functions drain``) consumes them with a no-op ``async def`` function receiving batches of up to 100
(``maxEventBatchSize``' default). The function counts events in memory and writes one file at the N-th, so the
rate is ``(N - first batch) / (last call - first call)``; start-up is outside the window. Checkpoints (one per
batch) are part of it. Baseline, in this process, in the same round: the same N events through the same SQLite
store class: appended with ``send`` in batches of 100, then read back with ``read`` in ranges of 100 per partition.

Latency: an ``async def`` HTTP function sends ``{"sent": time.time()}`` through an ``event_hub_output`` binding
(which wakes this instance's partition pump in process); the ``cardinality="one"`` trigger appends ``now - sent``
to a file. Requests go one at a time with a gap. Baseline: the store's own ``send`` then ``read`` of that event in
this process (the floor of the path).

    python bench/eventhubs_throughput.py [--events 20000] [--rounds 3] [--samples 200] [--gap-ms 30]

Targets (issue): throughput >= 0.3 of the raw rate; latency p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    APPS,
    command_line,
    free_port,
    keepalive_after_202,
    latency_line,
    overcast_cmd,
    percentile,
    post,
    read_numbers,
    start,
    stop,
    wait_for_file,
)

HUB = "bench-throughput"
PARTITIONS = 4
BATCH = 100
TARGET = 0.3
TARGET_P50_MS = 5.0
WARMUP = 20
APP = APPS / "eventhubs_bench"


def bodies(count: int) -> list[bytes]:
    """~80-byte JSON events."""
    return [json.dumps({"reading": n, "device": "d-" + str(n % 50), "value": 21.5}).encode() for n in range(count)]


def append_all(store: object, events: list[bytes]) -> None:
    from overcast.backends.eventhubs_store import EventData

    for start_at in range(0, len(events), BATCH):
        chunk = events[start_at:start_at + BATCH]
        store.send(HUB, [EventData(body) for body in chunk],  # type: ignore[attr-defined]
                   partition_id=str((start_at // BATCH) % PARTITIONS))


def raw_store(data_dir: Path, events: list[bytes]) -> tuple[float, float]:
    """(seconds to append all in batches of 100, seconds to read all back in ranges of 100)."""
    from overcast.backends.sqlite.eventhubs import SqliteEventHubsStore

    data_dir.mkdir(parents=True)
    store = SqliteEventHubsStore(data_dir / "overcast.db")
    try:
        store.ensure_hub(HUB, PARTITIONS)
        begin = time.perf_counter()
        append_all(store, events)
        appended = time.perf_counter()
        seen = 0
        for partition in range(PARTITIONS):
            position = 0
            while batch := store.read(HUB, str(partition), position, BATCH):
                seen += len(batch)
                position = batch[-1].sequence_number + 1
        done = time.perf_counter()
    finally:
        store.close()
    if seen != len(events):
        raise RuntimeError(f"raw baseline read {seen} of {len(events)} events")
    return appended - begin, done - appended


def overcast_run(tmp: Path, run: int, events: list[bytes]) -> tuple[float, float]:
    """(events/s from the first to the last call, seconds from spawn to the first call)."""
    from overcast.backends.sqlite.eventhubs import SqliteEventHubsStore

    data_dir, markers = tmp / f"data{run}", tmp / f"markers{run}"
    markers.mkdir()
    data_dir.mkdir()
    store = SqliteEventHubsStore(data_dir / "overcast.db")
    try:
        store.ensure_hub(HUB, PARTITIONS)
        append_all(store, events)
    finally:
        store.close()
    env = {"BENCH_MARKER_DIR": str(markers), "BENCH_EXPECTED": str(len(events))}
    cmd = [*overcast_cmd(APP, free_port(), data_dir), "--functions", "drain"]
    spawned = time.time()
    proc = start(cmd, tmp / "overcast.log", env=env)
    try:
        wait_for_file(markers / "throughput", 300, proc)
        record = json.loads((markers / "throughput").read_text())
    finally:
        stop(proc)
    rate = (record["count"] - record["first_batch"]) / (record["last"] - record["first"])
    return rate, record["first"] - spawned


def raw_latency(data_dir: Path, samples: int) -> list[float]:
    """The floor: the store's send of one event, then the read that finds it, in this process (ms)."""
    from overcast.backends.eventhubs_store import EventData
    from overcast.backends.sqlite.eventhubs import SqliteEventHubsStore

    data_dir.mkdir(parents=True)
    store = SqliteEventHubsStore(data_dir / "overcast.db")
    out = []
    try:
        store.ensure_hub("floor", 1)
        for n in range(samples):
            sent = time.time()
            store.send("floor", [EventData(json.dumps({"sent": sent}).encode())])
            event = store.read("floor", "0", n, 1)[0]
            out.append((time.time() - json.loads(event.body)["sent"]) * 1000)
    finally:
        store.close()
    return out


def latency(tmp: Path, samples: int, gap_ms: float) -> tuple[list[float], list[float]]:
    markers, data_dir = tmp / "latency-markers", tmp / "latency-data"
    markers.mkdir()
    port = free_port()
    proc = start([*overcast_cmd(APP, port, data_dir), "--functions", "send", "receive"], tmp / "latency.log",
                 env={"BENCH_MARKER_DIR": str(markers)})
    try:
        conn = keepalive_after_202(port, proc, "/api/send")
        for _ in range(WARMUP - 1):
            post(conn, "/api/send")
            time.sleep(gap_ms / 1000)
        for _ in range(samples):
            if post(conn, "/api/send") != 202:
                raise RuntimeError("POST /api/send did not answer 202")
            time.sleep(gap_ms / 1000)
        ours = read_numbers(markers / "latency", WARMUP + samples)[WARMUP:]
    finally:
        stop(proc)
    return ours, raw_latency(tmp / "latency-raw", samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-eventhubs-bench-"))
    events = bodies(args.events)
    rows: list[tuple[float, float]] = []  # (raw append+read /s, overcast /s)
    for run in range(args.rounds):
        append_s, read_s = raw_store(tmp / f"raw{run}", events)
        ours, spawn_to_first = overcast_run(tmp, run, events)
        raw = len(events) / (append_s + read_s)
        rows.append((raw, ours))
        print(f"round {run + 1}: raw append+read {raw:,.0f}/s (read only {len(events) / read_s:,.0f}/s), "
              f"overcast {ours:,.0f}/s, ratio {ours / raw:.2f} (spawn to first call {spawn_to_first:.2f} s)",
              flush=True)
    raw = statistics.median(r[0] for r in rows)
    ours = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[1] / r[0] for r in rows)
    print()
    print(f"event hubs throughput, {args.events:,} events in {PARTITIONS} partitions, batches of {BATCH}, "
          f"median of {args.rounds} rounds")
    print(f"  raw store, send (batches of {BATCH}) + read (ranges of {BATCH})  {raw:>9,.0f} events/s")
    print(f"  overcast, no-op async function, cardinality many        {ours:>9,.0f} events/s")
    print(f"  ratio overcast / raw: {ratio:.2f}  (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
    ours_ms, raw_ms = latency(tmp, args.samples, args.gap_ms)
    p50 = percentile(ours_ms, 50)
    print()
    print(f"event hubs latency, send through the host -> start of the function, {args.samples} samples, gap "
          f"{args.gap_ms:g} ms (after {WARMUP} warm-up requests)")
    print(latency_line("overcast, HTTP output binding (wake-up)", ours_ms, 38, count=True))
    print(latency_line("raw floor (store send + read)", raw_ms, 38, count=True))
    print(f"  target p50 < {TARGET_P50_MS:g} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
