"""Service Bus on the embedded SQLite store: messages/s through a no-op ``async def`` function against the raw store
operations on the same messages, and send-through-the-host → function start latency.

Throughput, Overcast side: N messages are sent with the store's own ``send`` (no HTTP), then ``overcast start``
(one instance, its own ``--data-dir``, ``--functions drain``) consumes them; the rate is
``(N - 1) / (last call - first call)`` (start-up outside the window; the queue must end empty, not timed).
Baselines, in this process, in the same round, on the same N messages through the same store class, with nothing
else around the store: (a) as bench/queue_throughput.py's raw baseline, one transaction per step: ``send`` each,
then ``receive`` one and ``settle`` it complete (3 per message; the target's ratio); (b) consume only, one at a time
(receive + complete: 2 per message); (c) consume as the listener does, ``receive`` 16 at a time (its batch on a
2-core machine) and ``settle`` each batch complete in one call: the strictest, since Overcast batches the same way
and adds only the loop, the library's converter, the dispatcher and the function.

Latency: an ``async def`` HTTP function puts ``{"sent": time.time()}`` on a Service Bus output binding (sent as the
function returns, waking this instance's listener in process); the triggered ``async def`` function appends
``now - sent``. Requests go one at a time with a gap, so the host is idle when each message arrives.

    python bench/servicebus_throughput.py [--messages 3000] [--rounds 3] [--samples 200] [--gap-ms 30]

Targets (issue 10): throughput ratio >= 0.3; latency p50 < 5 ms.
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

APP = APPS / "servicebus_bench"
QUEUE = "bench-throughput"
TARGET = 0.3
TARGET_P50_MS = 5.0
WARMUP = 20


def bodies(count: int) -> list[bytes]:
    return [json.dumps({"order": n, "item": "x" * 48, "qty": 1}).encode() for n in range(count)]


def raw_store(data_dir: Path, messages: list[bytes]) -> tuple[float, float, float]:
    """Messages/s of the three baselines: (3 txn per message, receive + complete one at a time, 16 at a time)."""
    from overcast.backends.servicebus_store import OutgoingMessage
    from overcast.backends.sqlite.servicebus import SqliteServiceBusStore

    data_dir.mkdir(parents=True)
    store = SqliteServiceBusStore(data_dir / "raw.db")
    count = len(messages)
    try:
        begin = time.perf_counter()
        for body in messages:
            store.send("single", [OutgoingMessage(body)])
        sent = time.perf_counter()
        for _ in messages:
            (got,) = store.receive("single", 1)
            store.settle("single", [str(got.lock_token)], "complete")
        one_at_a_time = time.perf_counter()
        store.send(QUEUE, [OutgoingMessage(body) for body in messages])
        batched = time.perf_counter()
        done = 0
        while got_many := store.receive(QUEUE, 16):
            done += sum(store.settle(QUEUE, [str(m.lock_token) for m in got_many], "complete"))
        end = time.perf_counter()
        if done != count:
            raise RuntimeError(f"raw baseline completed {done} of {count} messages")
        return count / (one_at_a_time - begin), count / (one_at_a_time - sent), count / (end - batched)
    finally:
        store.close()


def overcast_run(tmp: Path, run: int, messages: list[bytes]) -> float:
    from overcast.backends.pool import EMBEDDED, BackendPool
    from overcast.backends.servicebus_store import OutgoingMessage

    data_dir, markers = tmp / f"data{run}", tmp / f"markers{run}"
    markers.mkdir()
    pool = BackendPool(data_dir)
    try:
        pool.stores(EMBEDDED).servicebus.send(QUEUE, [OutgoingMessage(b) for b in messages])
    finally:
        pool.close()
    env = {"BENCH_MARKER_DIR": str(markers), "BENCH_EXPECTED": str(len(messages))}
    proc = start([*overcast_cmd(APP, free_port(), data_dir), "--functions", "drain"], tmp / "overcast.log", env=env)
    try:
        wait_for_file(markers / "throughput", 300, proc)
        record = json.loads((markers / "throughput").read_text())
        pool = BackendPool(data_dir)
        try:  # every message must also be completed (not timed)
            deadline = time.monotonic() + 30
            while (left := sum(e.active for e in pool.stores(EMBEDDED).servicebus.entities() if e.path == QUEUE)) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            pool.close()
        if left:
            raise RuntimeError(f"{left} messages were still active 30 s after the last call")
    finally:
        stop(proc)
    return float((record["count"] - 1) / (record["last"] - record["first"]))


def latency(tmp: Path, samples: int, gap_ms: float) -> list[float]:
    markers = tmp / "latency-markers"
    markers.mkdir()
    port = free_port()
    proc = start([*overcast_cmd(APP, port, tmp / "latency-data"), "--functions", "send", "receive"],
                 tmp / "overcast.log", env={"BENCH_MARKER_DIR": str(markers)})
    try:
        conn = keepalive_after_202(port, proc, "/api/send")
        for _ in range(WARMUP - 1 + samples):
            if post(conn, "/api/send") != 202:
                raise RuntimeError("POST /api/send did not answer 202")
            time.sleep(gap_ms / 1000)
        return read_numbers(markers / "latency", WARMUP + samples)[WARMUP:]
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-servicebus-bench-"))
    messages = bodies(args.messages)
    rows: list[tuple[float, float, float, float]] = []
    for run in range(args.rounds):
        full, single, batched = raw_store(tmp / f"raw{run}", messages)
        ours = overcast_run(tmp, run, messages)
        rows.append((full, single, batched, ours))
        print(f"round {run + 1}: raw 3txn {full:,.0f}/s, consume-only {single:,.0f}/s, batched {batched:,.0f}/s, "
              f"overcast {ours:,.0f}/s, ratio {ours / full:.2f}", flush=True)
    ours_latency = latency(tmp, args.samples, args.gap_ms)
    med = [statistics.median(r[i] for r in rows) for i in range(4)]
    ratios = [statistics.median(r[3] / r[i] for r in rows) for i in range(3)]
    p50 = percentile(ours_latency, 50)
    print()
    print(f"Service Bus throughput, {args.messages:,} messages, median of {args.rounds} rounds")
    print(f"  raw store, send + receive + complete (3 txn/msg)   {med[0]:>9,.0f} msgs/s")
    print(f"  raw store, receive + complete one at a time         {med[1]:>9,.0f} msgs/s")
    print(f"  raw store, receive 16 + complete 16 per round trip  {med[2]:>9,.0f} msgs/s")
    print(f"  overcast, no-op async Service Bus function          {med[3]:>9,.0f} msgs/s")
    print(f"  ratio overcast / raw 3txn: {ratios[0]:.2f}  (target >= {TARGET}: "
          f"{'met' if ratios[0] >= TARGET else 'NOT met'})")
    print(f"  ratio overcast / raw consume-only: {ratios[1]:.2f}; / raw batched: {ratios[2]:.2f}")
    print(f"Service Bus latency, send through the host -> function start, {args.samples} samples, gap "
          f"{args.gap_ms:g} ms (after {WARMUP} warm-up requests)")
    print(latency_line("overcast, HTTP output binding (wake-up)", ours_latency, 38, count=True))
    print(f"  target p50 < {TARGET_P50_MS:g} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
