"""Messages/s through a no-op ``async def`` queue function on the embedded SQLite store, against raw SQLite.

Overcast side: N messages are put on the queue with the store's own ``enqueue`` (no HTTP), then ``overcast start``
(one instance, its own ``--data-dir``, ``--functions drain``) consumes them. The function counts calls in memory
and writes one file at the N-th call, so the measurement adds no I/O per message; the rate is
``(N - 1) / (last call - first call)``: start-up is outside the window, and the last messages' deletes (at most
batchSize + newBatchThreshold in flight) are checked afterwards (the queue must end empty), not timed.

Baseline, in this process, in the same round: the same N bodies through plain ``sqlite3`` on a file with the
store's schema and pragmas (WAL, synchronous=NORMAL), one transaction per step: INSERT each message, then for each
claim one (UPDATE … RETURNING of the oldest visible row) and DELETE it by id. The rate counts all three steps;
the consume-only rate (claim + delete) is printed as well, as the stricter like-for-like comparison.

    python bench/queue_throughput.py [--messages 5000] [--rounds 3]

Target (issue): Overcast ≥ 0.3 of the raw rate (3 transactions per message).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import APPS, command_line, free_port, overcast_cmd, start, stop, wait_for_file

QUEUE = "bench-throughput"
TARGET = 0.3
PUBLISHED = (
    "Dramatiq 4.6-13k/s, Huey ~5k/s, Celery 1.1-1.7k/s (20k no-op jobs, 10 workers, Redis, M2 Pro; "
    "steventen/python_queue_benchmark)"
)
_CLAIM = (
    "UPDATE queue_messages SET dequeue_count = dequeue_count + 1, visible = ?, receipt = ? WHERE rowid = "
    "(SELECT rowid FROM queue_messages WHERE queue = ? AND visible <= ? ORDER BY visible, inserted, rowid LIMIT 1) "
    "RETURNING id, body"
)
_INSERT = (
    "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
    "VALUES (?, ?, ?, 0, ?, ?, ?, NULL)"
)


def bodies(count: int) -> list[bytes]:
    """~120-byte messages as the default base64 encoding stores them (the anchors' queue bench used 124 bytes)."""
    from overcast.bindings.queue import encode_body

    return [encode_body(json.dumps({"order": n, "item": "x" * 48, "qty": 1}).encode(), "base64") for n in range(count)]


def raw_sqlite(db: Path, messages: list[bytes]) -> tuple[float, float]:
    """(seconds to enqueue all, seconds to claim + delete all): one transaction per step, autocommit."""
    from overcast.backends.sqlite.queues import QUEUE_SCHEMA
    from overcast.backends.sqlite.state import BUSY_TIMEOUT_MS

    conn = sqlite3.connect(str(db), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in QUEUE_SCHEMA:
        conn.execute(statement)
    begin = time.perf_counter()
    for body in messages:
        now = time.time()
        conn.execute(_INSERT, (str(uuid.uuid4()), QUEUE, body, now, now + 7 * 86400, now))
    enqueued = time.perf_counter()
    for _ in messages:
        now = time.time()
        mid, _body = conn.execute(_CLAIM, (now + 600, uuid.uuid4().hex, QUEUE, now)).fetchone()
        conn.execute("DELETE FROM queue_messages WHERE id = ?", (mid,))
    done = time.perf_counter()
    left = conn.execute("SELECT COUNT(*) FROM queue_messages").fetchone()[0]
    conn.close()
    if left:
        raise RuntimeError(f"raw baseline left {left} messages")
    return enqueued - begin, done - enqueued


def overcast_run(tmp: Path, run: int, messages: list[bytes], extra_args: list[str]) -> tuple[float, float]:
    """(messages/s from the first to the last call, seconds from spawn to the first call)."""
    from overcast.backends import open_queue_store

    data_dir, markers = tmp / f"data{run}", tmp / f"markers{run}"
    markers.mkdir()
    store = open_queue_store(data_dir)
    try:
        for body in messages:
            store.enqueue(QUEUE, body)
    finally:
        store.close()
    env = {"BENCH_MARKER_DIR": str(markers), "BENCH_EXPECTED": str(len(messages))}
    cmd = [*overcast_cmd(APPS / "queue_bench", free_port(), data_dir), "--functions", "drain", *extra_args]
    spawned = time.time()
    proc = start(cmd, tmp / "overcast.log", env=env)
    try:
        wait_for_file(markers / "throughput", 300, proc)
        record = json.loads((markers / "throughput").read_text())
        store = open_queue_store(data_dir)
        try:  # every message must also be deleted: wait for the last in-flight settles (not timed)
            deadline = time.monotonic() + 30
            while (left := store.list_queues().get(QUEUE, 0)) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            store.close()
        if left:
            raise RuntimeError(f"{left} messages were still on the queue 30 s after the last call")
    finally:
        stop(proc)
    return (record["count"] - 1) / (record["last"] - record["first"]), record["first"] - spawned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overcast_args", nargs="*", help="extra `overcast start` options (after --)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-queue-bench-"))
    messages = bodies(args.messages)
    rows: list[tuple[float, float, float]] = []  # (raw full cycle /s, raw consume-only /s, overcast /s)
    for run in range(args.rounds):
        enqueue_s, consume_s = raw_sqlite(tmp / f"raw{run}.db", messages)
        ours, spawn_to_first = overcast_run(tmp, run, messages, args.overcast_args)
        full, consume = len(messages) / (enqueue_s + consume_s), len(messages) / consume_s
        rows.append((full, consume, ours))
        print(
            f"round {run + 1}: raw 3txn {full:,.0f}/s (consume-only {consume:,.0f}/s), overcast {ours:,.0f}/s, "
            f"ratio {ours / full:.2f} (spawn to first call {spawn_to_first:.2f} s)",
            flush=True,
        )
    full = statistics.median(r[0] for r in rows)
    consume = statistics.median(r[1] for r in rows)
    ours = statistics.median(r[2] for r in rows)
    ratio = statistics.median(r[2] / r[0] for r in rows)
    consume_ratio = statistics.median(r[2] / r[1] for r in rows)
    print()
    print(f"queue throughput, {args.messages:,} messages, median of {args.rounds} rounds")
    print(f"  raw SQLite, enqueue+claim+delete (3 txn/msg)  {full:>9,.0f} msgs/s")
    print(f"  raw SQLite, claim+delete only (2 txn/msg)     {consume:>9,.0f} msgs/s")
    print(f"  overcast, no-op async queue function           {ours:>9,.0f} msgs/s")
    print(f"  ratio overcast / raw 3txn: {ratio:.2f}  (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
    print(f"  ratio overcast / raw consume-only: {consume_ratio:.2f}")
    print(f"  published, for scale only: {PUBLISHED}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
