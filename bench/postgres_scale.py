"""Scale-out on PostgreSQL: queue messages/s and durable HelloSequence5 orchestrations/s with 1, 2 and 4
``overcast start`` instances on one database, against the raw ``FOR UPDATE SKIP LOCKED`` claim+delete rate of the
same database and against the same runs on the embedded SQLite store; plus cross-instance enqueue -> function start.

Queues (``bench/apps/queue_bench``, ``--functions drain``: a no-op ``async def`` queue function): the instances
start and idle; then this process inserts N messages in one transaction (``INSERT … SELECT generate_series``, or
``executemany`` on SQLite) and polls the queue's row count every 20 ms; the rate is N / (commit -> empty). Each
instance has its own data folder (PostgreSQL) or all share one (SQLite: the one-machine form of the same design).

Raw floor, in this process on one connection: claim 16 rows (``UPDATE … FROM (SELECT … ORDER BY visible, inserted,
seq LIMIT 16 FOR UPDATE SKIP LOCKED) RETURNING``, the store's own statement shape) then delete them by id, until
the queue is empty: what one consumer of the same database can do with nothing else (no function, no host).

Durable (``bench/apps/durable_bench``, ``--functions chain5 noop``): N chain5 instances created in the store, then
k instances work through them; window from the first episode to the last completion, as bench/durable_throughput.py.

Latency (one instance, ``--functions receive``): this process enqueues ``{"sent": time.time()}`` through the
store, as another instance would (no in-process wake-up: the listener is woken by LISTEN/NOTIFY); the function
appends now - sent (same clock) to a file. The same for a Service Bus queue, an Event Hubs partition and a blob
trigger's container (``bench/apps/{servicebus,eventhubs,blob}_bench``): a send, an append or a blob written through
the store by this process, one every ``WAKE_SPACING`` s (longer than a blob scan's minimum gap), each printed with
its ratio to the queue's p50 of the same run. ``--only-latency`` skips the throughput and durable runs;
``--only-durable`` runs only the durable ones.

    OVERCAST_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test python bench/postgres_scale.py \
        [--messages 6000] [--orchestrations 200] [--instances 1 2 4] [--samples 200] [--wake-samples 60] \
        [--only-latency | --only-durable]

Targets (issue 12): queues >= 0.3 of raw with one instance; cross-instance enqueue -> start p50 < 10 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    APPS,
    DURABLE_APP,
    DURABLE_HUB,
    command_line,
    free_port,
    latency_line,
    overcast_cmd,
    percentile,
    read_numbers,
    start,
    start_in_store,
    stop,
    wait_200,
)

QUEUE_APP = APPS / "queue_bench"
THROUGHPUT_QUEUE = "bench-throughput"
LATENCY_QUEUE = "bench-latency"
BATCH = 16  # host.json batchSize default: what the listener claims at once
TARGET_RAW_RATIO = 0.3
TARGET_P50_MS = 10.0
WAKE_SPACING = 0.3  # s between two writes of the Service Bus / Event Hubs / blob latency runs
BODY = base64.b64encode(b"x" * 64)


@contextmanager
def schema(server: str) -> Iterator[str]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # type: ignore[arg-type]


def open_store(kind: str, data_dir: Path, url: str, opener: str) -> Any:
    from overcast.backends.registry import BackendTarget, open_backend

    return getattr(open_backend(kind, BackendTarget(data_dir, url)), opener)()


class Target:
    """One store under test: PostgreSQL (a schema of its own) or SQLite (one shared data folder)."""

    def __init__(self, kind: str, tmp: Path, url: str = "") -> None:
        self.kind, self.url, self.tmp = kind, url, tmp
        self.shared = tmp / f"data-{kind}-{uuid.uuid4().hex[:6]}"
        store = open_store(kind, self.shared, url, "open_queues")  # creates the tables
        store.close()

    def data_dir(self, index: int) -> Path:
        return self.tmp / f"data-{uuid.uuid4().hex[:6]}-{index}" if self.kind == "postgresql" else self.shared

    def env(self) -> dict[str, str]:
        return {"AzureWebJobsStorage": self.url, "AzureFunctionsWebHost__hostid": "bench"} if self.url else {}

    def fill(self, queue: str, count: int) -> float:
        """Insert ``count`` messages in one transaction; the time of the commit."""
        now = time.time()
        if self.kind == "postgresql":
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn, conn.transaction():
                conn.execute("INSERT INTO queues (name) VALUES (%s) ON CONFLICT DO NOTHING", (queue,))
                conn.execute(
                    "INSERT INTO queue_messages (id, queue, body, inserted, expires, visible, receipt) "
                    "SELECT gen_random_uuid()::text, %s, %s, %s, %s, %s, 'r' FROM generate_series(1, %s)",
                    (queue, BODY, now, now + 3600, now, count))
                conn.execute("SELECT pg_notify('overcast_queue', %s)", (queue,))
            return time.time()
        conn = sqlite3.connect(self.shared / "overcast.db", timeout=30)
        with conn:
            conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))
            conn.executemany(
                "INSERT INTO queue_messages (id, queue, body, dequeue_count, inserted, expires, visible, receipt) "
                "VALUES (?, ?, ?, 0, ?, ?, ?, 'r')",
                [(uuid.uuid4().hex, queue, BODY, now, now + 3600, now) for _ in range(count)])
        conn.close()
        return time.time()

    def remaining(self, queue: str) -> int:
        if self.kind == "postgresql":
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM queue_messages WHERE queue = %s", (queue,)).fetchone()
            return int(row[0]) if row else 0
        conn = sqlite3.connect(self.shared / "overcast.db", timeout=30)
        try:
            return int(conn.execute("SELECT count(*) FROM queue_messages WHERE queue = ?", (queue,)).fetchone()[0])
        finally:
            conn.close()


def raw_rate(url: str, count: int) -> float:
    """Messages/s of claim (SKIP LOCKED, 16 at a time) + delete on one connection, nothing else."""
    import psycopg

    target = Target("postgresql", Path(tempfile.mkdtemp()), url)
    target.fill("raw", count)
    claim = ("UPDATE queue_messages m SET dequeue_count = m.dequeue_count + 1, visible = %(until)s, "
             "receipt = 'c' FROM (SELECT seq FROM queue_messages WHERE queue = 'raw' AND visible <= %(now)s "
             "AND expires > %(now)s ORDER BY visible, inserted, seq LIMIT 16 FOR UPDATE SKIP LOCKED) AS r "
             "WHERE m.seq = r.seq RETURNING m.id")
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        while True:
            now = time.time()
            ids = [row[0] for row in conn.execute(claim, {"now": now, "until": now + 600}).fetchall()]
            if not ids:
                break
            conn.execute("DELETE FROM queue_messages WHERE id = ANY(%s) AND receipt = 'c'", (ids,))
        return count / (time.perf_counter() - began)


@contextmanager
def instances(target: Target, app: Path, count: int, functions: list[str],
              env: dict[str, str] | None = None) -> Iterator[list[int]]:
    procs, ports = [], []
    try:
        for index in range(count):
            port = free_port()
            cmd = [*overcast_cmd(app, port, target.data_dir(index)), "--functions", *functions]
            procs.append(start(cmd, target.tmp / f"overcast-{target.kind}-{port}.log",
                               env={**target.env(), "OVERCAST_STORAGE_ENDPOINTS": "off", **(env or {})}))
            ports.append(port)
        for port, proc in zip(ports, procs, strict=True):
            wait_200(port, "/admin/host/ping", 60, proc)
        yield ports
    finally:
        for proc in procs:
            stop(proc)


def queue_rate(target: Target, count: int, k: int) -> float:
    with instances(target, QUEUE_APP, k, ["drain"]):
        time.sleep(1.0)  # idle: the listeners are polling at their slowest
        committed = target.fill(THROUGHPUT_QUEUE, count)
        while target.remaining(THROUGHPUT_QUEUE):
            time.sleep(0.02)
        return count / (time.time() - committed)


def durable_rate(target: Target, count: int, k: int) -> float:
    from overcast.durable.core import history
    from overcast.durable.store import PENDING, RUNNING, InstanceQuery

    store = open_store(target.kind, target.shared, target.url, "open_durable")
    try:
        prefix = uuid.uuid4().hex[:6]
        ids = [start_in_store(store, "chain5", f"{prefix}-{n:05d}") for n in range(count)]
        with instances(target, DURABLE_APP, k, ["chain5", "noop"]):
            busy = InstanceQuery(runtime_statuses=(PENDING, RUNNING))
            deadline = time.monotonic() + 900
            while store.query_instances(DURABLE_HUB, busy, top=1).items:
                if time.monotonic() > deadline:
                    raise RuntimeError("orchestrations still running after 900 s")
                time.sleep(0.25)
        firsts, lasts = [], []
        for instance_id in ids:
            record = store.get_instance(DURABLE_HUB, instance_id)
            if record is None or record.runtime_status != "Completed" or json.loads(record.output or "0") != [
                    0, 1, 2, 3, 4]:
                raise RuntimeError(f"{instance_id} did not complete as expected: {record}")
            events = store.get_history(DURABLE_HUB, instance_id)
            starts = [e for e in events if history.event_type(e) == history.EventType.ORCHESTRATOR_STARTED]
            firsts.append(history.parse_timestamp(starts[0]["Timestamp"]).timestamp())
            lasts.append(record.last_updated_time)
        return count / (max(lasts) - min(firsts))
    finally:
        store.close()


def latency(target: Target, samples: int, tmp: Path) -> list[float]:
    marker = tmp / f"latency-{uuid.uuid4().hex[:6]}"
    marker.mkdir()
    store = open_store(target.kind, target.shared, target.url, "open_queues")
    try:
        with instances(target, QUEUE_APP, 1, ["receive"], {"BENCH_MARKER_DIR": str(marker)}):
            time.sleep(1.0)
            for _ in range(samples + 10):
                store.enqueue(LATENCY_QUEUE, base64.b64encode(json.dumps({"sent": time.time()}).encode()))
                time.sleep(0.05)
            return read_numbers(marker / "latency", samples + 10)[10:]
    finally:
        store.close()


def write_servicebus(url: str) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    from overcast.backends.servicebus_store import OutgoingMessage

    store = open_store("postgresql", Path("."), url, "open_servicebus")
    return (lambda body: store.send("bench-latency", [OutgoingMessage(body)])), store.close


def write_eventhubs(url: str) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    from overcast.backends.eventhubs_store import EventData

    store = open_store("postgresql", Path("."), url, "open_eventhubs")
    return (lambda body: store.send("bench-latency", [EventData(body)])), store.close


def write_blob(url: str) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    store = open_store("postgresql", Path("."), url, "open_blob_api")
    return (lambda body: store.put("bench", f"{uuid.uuid4()}.json", body)), store.close


# kind: (the bench app, its function that records the latency, the writer another instance would be)
WAKE_KINDS: dict[str, tuple[str, str, Callable[[str], tuple[Callable[[bytes], None], Callable[[], None]]]]] = {
    "Service Bus queue": ("servicebus_bench", "receive", write_servicebus),
    "Event Hubs partition": ("eventhubs_bench", "receive", write_eventhubs),
    "blob trigger": ("blob_bench", "on_blob", write_blob),
}


def wake_latency(target: Target, kind: str, samples: int, tmp: Path) -> list[float]:
    """Another process's write -> the function's start, for one trigger kind on PostgreSQL."""
    app, function, writer = WAKE_KINDS[kind]
    marker = tmp / f"wake-{uuid.uuid4().hex[:6]}"
    marker.mkdir()
    with instances(target, APPS / app, 1, [function], {"BENCH_MARKER_DIR": str(marker)}):
        time.sleep(2.0)  # the listener has created its entity / hub and is idle
        write, close = writer(target.url)
        try:
            for _ in range(samples + 5):
                write(json.dumps({"sent": time.time()}).encode())
                time.sleep(WAKE_SPACING)
        finally:
            close()
        return read_numbers(marker / "latency", samples + 5)[5:]


def rows(label: str, measure: Callable[[int], float], counts: list[int], unit: str, base: float,
         base_name: str) -> dict[int, float]:
    found = {}
    for k in counts:
        rate = measure(k)
        found[k] = rate
        print(f"  {label} x{k}: {rate:8,.0f} {unit}  ({rate / base:.2f} of {base_name})", flush=True)
    return found


def print_durable(pg: Target, lite: Target, args: argparse.Namespace) -> None:
    print("durable HelloSequence5:", flush=True)
    lite_durable = durable_rate(lite, args.orchestrations, 1)
    print(f"  SQLite     x1: {lite_durable:8,.1f} orch/s", flush=True)
    rows("PostgreSQL", lambda k: durable_rate(pg, args.orchestrations, k), args.instances, "orch/s",
         lite_durable, "SQLite x1")
    for k in args.instances[1:]:
        rate = durable_rate(lite, args.orchestrations, k)
        print(f"  SQLite     x{k}: {rate:8,.1f} orch/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--orchestrations", type=int, default=200)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--wake-samples", type=int, default=60)
    parser.add_argument("--only-latency", action="store_true", help="skip the throughput and durable runs")
    parser.add_argument("--only-durable", action="store_true", help="run only the durable HelloSequence5 runs")
    args = parser.parse_args()
    server = os.environ.get("OVERCAST_TEST_POSTGRES", "")
    if not server:
        print("set OVERCAST_TEST_POSTGRES to a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="overcast-pg-scale-"))
    print(command_line())
    with schema(server) as url:
        if args.only_latency:
            print_latencies(Target("postgresql", tmp, url), args, tmp)
            return 0
        if args.only_durable:
            print_durable(Target("postgresql", tmp, url), Target("embedded", tmp), args)
            return 0
        raw = raw_rate(url, args.messages)
        print(f"queues: raw SKIP LOCKED claim+delete, one connection: {raw:,.0f} msg/s", flush=True)
        pg = Target("postgresql", tmp, url)
        pg_queue = rows("PostgreSQL", lambda k: queue_rate(pg, args.messages, k), args.instances, "msg/s", raw,
                        "raw")
        lite = Target("embedded", tmp)
        rows("SQLite    ", lambda k: queue_rate(lite, args.messages, k), args.instances, "msg/s", raw, "raw")
        print_durable(pg, lite, args)
        p50 = print_latencies(pg, args, tmp)
    ratio = pg_queue[args.instances[0]] / raw
    print(f"target: queues x{args.instances[0]} >= {TARGET_RAW_RATIO} of raw: {ratio:.2f} "
          f"{'PASS' if ratio >= TARGET_RAW_RATIO else 'FAIL'}; p50 < {TARGET_P50_MS} ms: {p50:.2f} ms "
          f"{'PASS' if p50 < TARGET_P50_MS else 'FAIL'}")
    print(f"logs: {tmp}")
    return 0


def print_latencies(pg: Target, args: argparse.Namespace, tmp: Path) -> float:
    """Cross-instance write -> function start for a storage queue, then each other kind against it; the queue's
    p50 (ms)."""
    values = latency(pg, args.samples, tmp)
    print("cross-instance write -> function start (PostgreSQL, LISTEN/NOTIFY):", flush=True)
    print(latency_line("storage queue", values, 20, count=True), flush=True)
    p50 = percentile(values, 50)
    for kind in WAKE_KINDS:
        found = wake_latency(pg, kind, args.wake_samples, tmp)
        print(f"{latency_line(kind, found, 20, count=True)}  (p50 {percentile(found, 50) / p50:.2f} of the "
              f"storage queue's)", flush=True)
    return p50


if __name__ == "__main__":
    sys.exit(main())
