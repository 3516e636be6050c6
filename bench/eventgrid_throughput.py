"""Events/s delivered from a local Event Grid topic to a no-op ``async def`` Event Grid function, against the
Event Grid store's own route + claim + complete rate in the same round.

Overcast side: N events are published to the local topic ``bench`` with the store's own ``publish`` (no HTTP),
then ``overcast start`` (one instance, its own ``--data-dir``) routes them to the subscription (eventgrid.json),
claims, invokes the function and completes each delivery. The function counts calls in memory and writes one file
at the N-th call; the rate is ``(N - 1) / (last call - first call)`` (start-up is outside the window).

Baseline, in this process, in the same round: the same N events through the same SQLite store with no host
around it: publish, then ``fan_out`` (256 at a time) and ``claim`` (32 at a time) + ``complete`` each, as the
delivery loop does, with nothing invoked. The ratio is the cost of the host (conversion, dispatch, the function
call, logging) on top of the store's own work.

    python bench/eventgrid_throughput.py [--events 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import APPS, command_line, free_port, overcast_cmd, start, stop, wait_for_file

TOPIC = "bench"


def events(count: int) -> list[str]:
    """~300-byte Event Grid events, as the output binding publishes them."""
    return [json.dumps({"id": str(uuid.uuid4()), "subject": f"/orders/{n}", "eventType": "Contoso.Orders.Created",
                        "eventTime": "2024-05-01T12:00:00Z", "dataVersion": "1.0", "metadataVersion": "1",
                        "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.EventGrid/topics/bench",
                        "data": {"order": n, "item": "x" * 48, "qty": 1}}) for n in range(count)]


def store_only(data_dir: Path, published: list[str]) -> float:
    """Events/s through publish + fan_out + claim + complete on the SQLite store, nothing invoked."""
    from overcast.backends.eventgrid_store import Route
    from overcast.backends.registry import BackendTarget, open_backend

    store = open_backend("embedded", BackendTarget(data_dir)).open_eventgrid()
    try:
        begin = time.perf_counter()
        store.publish(TOPIC, published)
        while store.fan_out(lambda topic, event, at: [Route("drain", at + 86400)], 256):
            pass
        done = 0
        while batch := store.claim(32, 300):
            for delivery in batch:
                done += store.complete(delivery.id, delivery.receipt or "")
        elapsed = time.perf_counter() - begin
    finally:
        store.close()
    if done != len(published):
        raise RuntimeError(f"the store-only baseline completed {done} of {len(published)} deliveries")
    return len(published) / elapsed


def overcast_run(tmp: Path, run: int, published: list[str]) -> tuple[float, float]:
    """(events/s from the first to the last call, seconds from spawn to the first call)."""
    from overcast.backends.registry import BackendTarget, open_backend

    data_dir, markers = tmp / f"data{run}", tmp / f"markers{run}"
    markers.mkdir()
    store = open_backend("embedded", BackendTarget(data_dir)).open_eventgrid()
    try:
        store.publish(TOPIC, published)
    finally:
        store.close()
    env = {"BENCH_MARKER_DIR": str(markers), "BENCH_EXPECTED": str(len(published))}
    spawned = time.time()
    proc = start(overcast_cmd(APPS / "eventgrid_bench", free_port(), data_dir), tmp / "overcast.log", env=env)
    try:
        wait_for_file(markers / "throughput", 300, proc)
        record = json.loads((markers / "throughput").read_text())
    finally:
        stop(proc)
    return (record["count"] - 1) / (record["last"] - record["first"]), record["first"] - spawned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-eventgrid-bench-"))
    published = events(args.events)
    rows: list[tuple[float, float]] = []
    for run in range(args.rounds):
        baseline = store_only(tmp / f"raw{run}", published)
        ours, spawn_to_first = overcast_run(tmp, run, published)
        rows.append((baseline, ours))
        print(f"round {run + 1}: store only {baseline:,.0f}/s, overcast {ours:,.0f}/s, ratio {ours / baseline:.2f} "
              f"(spawn to first call {spawn_to_first:.2f} s)", flush=True)
    print()
    print(f"Event Grid delivery throughput, {args.events:,} events, median of {args.rounds} rounds")
    print(f"  store only, publish+route+claim+complete   {statistics.median(r[0] for r in rows):>9,.0f} events/s")
    print(f"  overcast, no-op async Event Grid function  {statistics.median(r[1] for r in rows):>9,.0f} events/s")
    print(f"  ratio overcast / store only: {statistics.median(r[1] / r[0] for r in rows):.2f}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
