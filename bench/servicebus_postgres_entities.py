"""Service Bus on PostgreSQL: do receivers of different entities wait for each other?

K processes each receive and complete M messages through the store (``receive`` 16, ``settle`` complete, as the
listener does), all from ONE queue (the baseline: one entity's receives are serialized by design, one lock holder
at a time) and then each from a queue of its OWN, in the same run on a fresh schema each. With a lock per entity
the second should approach K times the first's total rate on a machine with K free cores; with one lock for all
Service Bus work both would be the same.

    OVERCAST_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test \\
        python bench/servicebus_postgres_entities.py [--processes 2] [--messages 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postgres_scale import open_store, schema


def drain(url: str, queue: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue
          ) -> None:  # type: ignore[type-arg]
    """Receive and complete until the queue is empty (it was filled before ``start``); the seconds it took."""
    store = open_store("postgresql", Path(tempfile.gettempdir()), url, "open_servicebus")
    start.wait()
    began = time.perf_counter()
    while got := store.receive(queue, 16):
        store.settle(queue, [m.lock_token or "" for m in got], "complete")
    out.put(time.perf_counter() - began)
    store.close()


def round_rate(server: str, processes: int, messages: int, own_queue: bool) -> float:
    """Messages/s over all processes (total messages / the slowest process's time)."""
    from overcast.backends.servicebus_store import OutgoingMessage

    with schema(server) as url:
        store = open_store("postgresql", Path(tempfile.gettempdir()), url, "open_servicebus")
        queues = [f"q{n}" if own_queue else "q0" for n in range(processes)]
        for name in set(queues):
            per_queue = messages * queues.count(name)
            for first in range(0, per_queue, 500):
                store.send(name, [OutgoingMessage(b"x" * 64) for _ in range(min(500, per_queue - first))])
        ctx = multiprocessing.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        children = [ctx.Process(target=drain, args=(url, q, start, out)) for q in queues]
        for child in children:
            child.start()
        time.sleep(1.0)  # every child has opened its store
        start.set()
        seconds = max(out.get(timeout=600) for _ in children)
        for child in children:
            child.join()
        left = sum(store.peek(name, 1) != [] for name in set(queues))
        store.close()
        if left:
            raise SystemExit("a queue was not drained: the run is void")
        return processes * messages / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000, help="per process")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = os.environ.get("OVERCAST_TEST_POSTGRES")
    if not server:
        print("set OVERCAST_TEST_POSTGRES to a PostgreSQL server", file=sys.stderr)
        return 2
    print("python bench/servicebus_postgres_entities.py " + " ".join(sys.argv[1:]))
    shared, own = [], []
    for _ in range(args.rounds):
        shared.append(round_rate(server, args.processes, args.messages, own_queue=False))
        own.append(round_rate(server, args.processes, args.messages, own_queue=True))
    ratios = [o / s for o, s in zip(own, shared, strict=True)]
    print(f"{args.processes} processes x {args.messages} messages, receive 16 + complete, per round:")
    print(f"  one shared queue     {', '.join(f'{r:,.0f}' for r in shared)} msg/s")
    print(f"  a queue each         {', '.join(f'{r:,.0f}' for r in own)} msg/s")
    print(f"  ratio (own / shared) {', '.join(f'{r:.2f}' for r in ratios)}  median {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
