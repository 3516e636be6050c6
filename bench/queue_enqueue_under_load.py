"""Enqueue latency through an HTTP function while two instances consume the same queue (embedded SQLite store).

``overcast start --workers 2 --functions enqueue consume`` runs two instance processes. ``enqueue`` is an
``async def`` HTTP function whose queue output binding writes one message to ``bench-load``; ``consume`` is a
no-op ``async def`` queue function on ``bench-load`` in both instances. The client times each ``POST /api/enqueue``
round trip on a kept-alive connection (the output binding's enqueue happens before the response is sent).

Baseline, in the same run: the same requests while the queue is empty, so the consumers only poll (idle). Then
``--backlog`` messages are written to the queue in one transaction (as another process would) and, once the
consumers are busy with them, the same requests are timed again; the bench checks afterwards that the backlog
had not run dry while it measured (otherwise the figure would be an idle one).

    python bench/queue_enqueue_under_load.py [--samples 400] [--backlog 40000] [--gap-ms 2]

Target (issue 8): enqueue p99 under load < 20 ms.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import sqlite3
import sys
import tempfile
import time
import uuid
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
    start,
    stop,
)

QUEUE = "bench-load"
PATH = "/api/enqueue"
TARGET_P99_MS = 20.0
WARMUP = 30
_INSERT = (
    "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
    "VALUES (?, ?, ?, 0, ?, ?, ?, NULL)"
)


def timed_posts(conn: http.client.HTTPConnection, count: int, gap_s: float) -> list[float]:
    """Milliseconds of ``count`` POST round trips, one at a time."""
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        conn.request("POST", PATH, body=b"")
        response = conn.getresponse()
        response.read()
        samples.append((time.perf_counter() - began) * 1000)
        if response.status != 202:
            raise RuntimeError(f"POST {PATH} answered {response.status}")
        time.sleep(gap_s)
    return samples


def backlog(db: Path, count: int) -> None:
    """``count`` small messages in one transaction, with the store's schema (the host created it)."""
    conn = sqlite3.connect(str(db), isolation_level=None, timeout=10)
    try:
        now = time.time()
        rows = [
            (str(uuid.uuid4()), QUEUE, base64.b64encode(json.dumps({"n": n, "item": "x" * 48}).encode()),
             now, now + 7 * 86400, now)
            for n in range(count)
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def remaining(db: Path) -> int:
    conn = sqlite3.connect(str(db), isolation_level=None, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM queue_messages WHERE queue = ?", (QUEUE,)).fetchone()[0])
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--backlog", type=int, default=40000)
    parser.add_argument("--gap-ms", type=float, default=2.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-enqueue-load-"))
    data_dir = tmp / "data"
    port = free_port()
    # A short maximum polling interval: the backlog written by this process is found at once (not part of the
    # measurement either way, it only shortens the run).
    env = {"AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.200"}
    cmd = [*overcast_cmd(APPS / "queue_bench", port, data_dir), "--workers", "2", "--functions", "enqueue", "consume"]
    proc = start(cmd, tmp / "overcast.log", env=env)
    gap = args.gap_ms / 1000
    try:
        conn = keepalive_after_202(port, proc, PATH)
        timed_posts(conn, WARMUP, gap)
        idle = timed_posts(conn, args.samples, gap)
        db = data_dir / "overcast.db"
        backlog(db, args.backlog)
        deadline = time.monotonic() + 30
        while remaining(db) > args.backlog - 500:  # both consumers have started on it
            if time.monotonic() > deadline:
                raise RuntimeError("the consumers did not start on the backlog within 30 s")
            time.sleep(0.02)
        loaded = timed_posts(conn, args.samples, gap)
        left = remaining(db)
        conn.close()
    finally:
        stop(proc)
    if left == 0:
        raise RuntimeError("the backlog ran dry while measuring: raise --backlog")
    p99 = percentile(loaded, 99)
    print(f"enqueue latency through an HTTP function (queue output binding), 2 instances consuming the same queue, "
          f"{args.samples} samples each, gap {args.gap_ms:g} ms")
    print(latency_line("idle (queue empty)", idle, 30, count=True))
    print(latency_line("under load (consumers busy)", loaded, 30, count=True))
    print(f"  ratio loaded / idle: p50 {percentile(loaded, 50) / percentile(idle, 50):.1f}, "
          f"p99 {p99 / percentile(idle, 99):.1f}  ({args.backlog - left:,} messages consumed while measuring, "
          f"{left:,} left)")
    print(f"  target p99 under load < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
