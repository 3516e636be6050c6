"""Latency from enqueue, through the host, to the start of a queue-triggered function (embedded SQLite store).

An ``async def`` HTTP function puts ``{"sent": time.time()}`` on a queue output binding (the binding enqueues as
the function returns, and wakes this instance's listener in process); the ``async def`` queue function takes
``time.time()`` first thing and appends ``now - sent`` to a file (same machine clock, same process). Requests go
one at a time with a gap, so the host is idle when each message arrives. ``overcast start`` runs one instance with
``--functions send receive`` and the default host.json.

Baseline, in this process, alternating with the samples above: the floor of the same path in plain Python — stamp,
INSERT one row (one transaction, the store's schema and pragmas), wake a consumer thread with a
``threading.Event``, which claims the row (UPDATE … RETURNING) and takes the time.

``--external N`` adds N samples, 1 s apart, enqueued by this process with the store's own ``enqueue``, as
``overcast queue send`` or another instance would: no in-process wake-up, so the message waits for the listener's
next poll (idle back-off up to ``maxPollingInterval``, 2 s by default). Not part of the target.

    python bench/queue_latency.py [--samples 300] [--gap-ms 30] [--external 0]

Target (issue): p50 < 5 ms through the host (the in-process wake-up path).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
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
    post,
    read_numbers,
    start,
    stop,
)

QUEUE = "bench-latency"
SEND = "/api/send"
TARGET_P50_MS = 5.0
WARMUP = 20


class RawFloor:
    """Enqueue → wake → claim in plain sqlite3 with a consumer thread: what the path costs with nothing else."""

    def __init__(self, db: Path) -> None:
        from overcast.backends.sqlite.queues import QUEUE_SCHEMA

        self._conn = self._connect(db)
        for statement in QUEUE_SCHEMA:
            self._conn.execute(statement)
        self._consumer_conn = self._connect(db)
        self._ready = threading.Event()
        self._taken = threading.Event()
        self._latency = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()

    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(db), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _consume(self) -> None:
        claim = (
            "UPDATE queue_messages SET dequeue_count = dequeue_count + 1, visible = ?, receipt = ? WHERE rowid = "
            "(SELECT rowid FROM queue_messages WHERE queue = ? AND visible <= ? ORDER BY visible, inserted, rowid "
            "LIMIT 1) RETURNING id, body"
        )
        while True:
            self._ready.wait()
            self._ready.clear()
            if self._stopping:
                return
            now = time.time()
            mid, body = self._consumer_conn.execute(claim, (now + 600, uuid.uuid4().hex, QUEUE, now)).fetchone()
            self._latency = time.time() - json.loads(body)["sent"]
            self._consumer_conn.execute("DELETE FROM queue_messages WHERE id = ?", (mid,))
            self._taken.set()

    def sample(self) -> float:
        self._taken.clear()
        sent = time.time()
        self._conn.execute(
            "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
            "VALUES (?, ?, ?, 0, ?, ?, ?, NULL)",
            (str(uuid.uuid4()), QUEUE, json.dumps({"sent": sent}).encode(), sent, sent + 7 * 86400, sent),
        )
        self._ready.set()
        self._taken.wait(5)
        return self._latency * 1000

    def close(self) -> None:
        self._stopping = True
        self._ready.set()
        self._thread.join(5)
        self._conn.close()
        self._consumer_conn.close()








def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    parser.add_argument("--external", type=int, default=0, help="samples enqueued from this process (polling path)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-queue-latency-"))
    markers, data_dir = tmp / "markers", tmp / "data"
    markers.mkdir()
    floor = RawFloor(tmp / "raw.db")
    port = free_port()
    proc = start(
        [*overcast_cmd(APPS / "queue_bench", port, data_dir), "--functions", "send", "receive"],
        tmp / "overcast.log",
        env={"BENCH_MARKER_DIR": str(markers)},
    )
    raw: list[float] = []
    external: list[float] = []
    try:
        conn = keepalive_after_202(port, proc, SEND)
        for _ in range(WARMUP - 1):
            post(conn, SEND)
            time.sleep(args.gap_ms / 1000)
        for _ in range(args.samples):
            raw.append(floor.sample())
            if post(conn, SEND) != 202:
                raise RuntimeError("POST /api/send did not answer 202")
            time.sleep(args.gap_ms / 1000)
        ours = read_numbers(markers / "latency", WARMUP + args.samples)[WARMUP:]
        if args.external:
            from overcast.backends import open_queue_store
            from overcast.bindings.queue import encode_body

            store = open_queue_store(data_dir)
            try:
                for _ in range(args.external):
                    store.enqueue(QUEUE, encode_body(json.dumps({"sent": time.time()}).encode(), "base64"))
                    time.sleep(1.0)  # lets the idle back-off grow, as between real senders
            finally:
                store.close()
            external = read_numbers(markers / "latency", WARMUP + args.samples + args.external)[-args.external :]
    finally:
        stop(proc)
        floor.close()
    p50 = percentile(ours, 50)
    print(
        f"queue latency, enqueue -> start of the queue function, {args.samples} samples, gap {args.gap_ms:g} ms "
        f"(after {WARMUP} warm-up requests)"
    )
    print(latency_line("overcast, HTTP output binding (wake-up)", ours, 38, count=True))
    print(latency_line("raw floor (sqlite3 + threading.Event)", raw, 38, count=True))
    if external:
        print(latency_line("overcast, enqueued by another process", external, 38, count=True))
    print(f"  ratio of p50s overcast / raw floor: {p50 / statistics.median(raw):.1f}")
    print(f"  target p50 < {TARGET_P50_MS:g} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
