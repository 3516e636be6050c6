"""Latency from a Cosmos DB write through the host to the start of the change-feed function (embedded SQLite store).

An ``async def`` HTTP function stamps ``time.time()`` into an item it upserts through a ``cosmos_db_output``
binding (which wakes this instance's change feed listener in process); the ``async def`` ``cosmos_db_trigger``
function takes ``time.time()`` first thing and appends ``now - sent`` to a file (same machine clock, same process).
Requests go one at a time with a gap, so the host is idle when each write arrives. ``overcast start`` runs one
instance of bench/apps/cosmos_bench (containers declared in its cosmosdb.json; ``feed_poll_delay`` at Azure's 5 s).

Baseline, in this process, alternating with the samples above: the floor of the same path in plain Python — stamp,
one transaction that bumps the container's sequence and upserts the item row (the store's schema and pragmas), wake
a reader thread with a ``threading.Event``, which reads the change feed after its last sequence and takes the time.

    python bench/cosmos_latency.py [--samples 300] [--gap-ms 30]

Target (issue): p50 < 20 ms through the host.
"""

from __future__ import annotations

import argparse
import http.client
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

SEND = "/api/send"
TARGET_P50_MS = 20.0
WARMUP = 20


class RawFloor:
    """Write → wake → read the feed in plain sqlite3 with a reader thread: what the path costs with nothing else."""

    def __init__(self, db: Path) -> None:
        from overcast.backends.sqlite.documents import DOCUMENT_SCHEMA

        self._conn = self._connect(db)
        for statement in DOCUMENT_SCHEMA:
            self._conn.execute(statement)
        self._conn.execute("INSERT INTO cosmos_containers (db, name, rid, pk_path, ranges, seq, created) "
                           "VALUES ('b', 'c', 'r', '/id', 1, 0, 0)")
        self._reader_conn = self._connect(db)
        self._ready = threading.Event()
        self._taken = threading.Event()
        self._latency = 0.0
        self._after = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(db), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _read(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            if self._stopping:
                return
            rows = self._reader_conn.execute(
                "SELECT seq, body FROM cosmos_items WHERE db = 'b' AND coll = 'c' AND seq > ? ORDER BY seq LIMIT 100",
                (self._after,)).fetchall()
            now = time.time()
            self._after = rows[-1][0]
            self._latency = now - json.loads(rows[-1][1])["sent"]
            self._taken.set()

    def sample(self) -> float:
        self._taken.clear()
        sent = time.time()
        item_id = uuid.uuid4().hex
        body = json.dumps({"id": item_id, "sent": sent})
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute("UPDATE cosmos_containers SET seq = seq + 1 WHERE db = 'b' AND name = 'c' "
                           "RETURNING seq").fetchone()[0]
        conn.execute("INSERT INTO cosmos_items (db, coll, pk, id, rng, seq, ts, etag, rid, body) "
                     "VALUES ('b', 'c', ?, ?, 0, ?, ?, 'e', 'r', ?) ON CONFLICT (db, coll, pk, id) DO UPDATE SET "
                     "seq = excluded.seq, body = excluded.body", (json.dumps(item_id), item_id, seq, sent, body))
        conn.execute("COMMIT")
        self._ready.set()
        self._taken.wait(5)
        return self._latency * 1000

    def close(self) -> None:
        self._stopping = True
        self._ready.set()
        self._thread.join(5)
        self._conn.close()
        self._reader_conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-cosmos-latency-"))
    markers, data_dir = tmp / "markers", tmp / "data"
    markers.mkdir()
    floor = RawFloor(tmp / "raw.db")
    port = free_port()
    proc = start(overcast_cmd(APPS / "cosmos_bench", port, data_dir), tmp / "overcast.log",
                 env={"BENCH_MARKER_DIR": str(markers)})
    raw: list[float] = []
    try:
        conn = keepalive_after_202(port, proc, SEND)
        # The listener holds its leases a moment after the first request: warm up until writes reach the function.
        _send_until_seen(conn, markers / "latency")
        for _ in range(WARMUP):
            post(conn, SEND)
            time.sleep(args.gap_ms / 1000)
        time.sleep(0.5)  # the last warm-up writes land before the samples are counted
        before = len(read_numbers(markers / "latency", 1 + WARMUP))
        for _ in range(args.samples):
            raw.append(floor.sample())
            if post(conn, SEND) != 202:
                raise RuntimeError("POST /api/send did not answer 202")
            time.sleep(args.gap_ms / 1000)
        ours = read_numbers(markers / "latency", before + args.samples)[before:]
    finally:
        stop(proc)
        floor.close()
    p50 = percentile(ours, 50)
    print(f"cosmos latency, write through the host -> start of the change-feed function, {args.samples} samples, "
          f"gap {args.gap_ms:g} ms (after {WARMUP} warm-up requests)")
    print(latency_line("overcast, HTTP output binding (wake-up)", ours, 38, count=True))
    print(latency_line("raw floor (sqlite3 + threading.Event)", raw, 38, count=True))
    print(f"  ratio of p50s overcast / raw floor: {p50 / statistics.median(raw):.1f}")
    print(f"  target p50 < {TARGET_P50_MS:g} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


def _send_until_seen(conn: http.client.HTTPConnection, marker: Path, deadline_s: float = 60.0) -> None:
    """POST until the change-feed function has recorded a first write (its listener is up and holds the leases)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return
        post(conn, SEND)
        time.sleep(0.2)
    raise RuntimeError("no write reached the change-feed function within 60 s")


if __name__ == "__main__":
    raise SystemExit(main())
