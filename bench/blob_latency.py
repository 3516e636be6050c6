"""Latency from a blob written through the host to the start of its blob-triggered function (embedded store).

An ``async def`` HTTP function sets a blob output (``bench/{rand-guid}.json``) to ``{"sent": time.time()}``; the
host writes it as the function returns and notifies the blob trigger in process (receipt, trigger message on the
shared queue, wake-up); the ``async def`` blob function takes ``time.time()`` first thing and appends
``now - sent`` to a file. Requests go one at a time with a gap (an idle host). One instance, default host.json
but Warning logs.

Baseline, in this process, alternating with the samples: the store work the path cannot avoid — ``put`` the blob
with the store's own SqliteBlobStore, then ``get`` it back (what the trigger reads).

    python bench/blob_latency.py [--samples 200] [--gap-ms 30]

Target (issue): p50 < 50 ms.
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
)

TARGET_P50_MS = 50.0
WRITE = "/api/write"
WARMUP = 10








def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    args = parser.parse_args()
    from overcast.backends import open_blob_store

    tmp = Path(tempfile.mkdtemp(prefix="overcast-blob-latency-"))
    markers = tmp / "markers"
    markers.mkdir()
    floor_store = open_blob_store(tmp / "floor")
    port = free_port()
    proc = start(overcast_cmd(APPS / "blob_bench", port, tmp / "data"), tmp / "overcast.log",
                 env={"BENCH_MARKER_DIR": str(markers)})
    floor: list[float] = []
    try:
        conn = keepalive_after_202(port, proc, WRITE)
        for _ in range(WARMUP - 1):
            post(conn, WRITE)
            time.sleep(args.gap_ms / 1000)
        for i in range(args.samples):
            began = time.perf_counter()
            floor_store.put("bench", f"{i}.json", json.dumps({"sent": time.time()}).encode())
            floor_store.get("bench", f"{i}.json")
            floor.append((time.perf_counter() - began) * 1000)
            if post(conn, WRITE) != 202:
                raise RuntimeError("POST /api/write did not answer 202")
            time.sleep(args.gap_ms / 1000)
        ours = read_numbers(markers / "latency", WARMUP + args.samples)[WARMUP:]
    finally:
        stop(proc)
        floor_store.close()
    p50 = percentile(ours, 50)
    print(f"blob latency, blob output written -> start of the blob function, {args.samples} samples, "
          f"gap {args.gap_ms:g} ms (after {WARMUP} warm-up requests)")
    print(latency_line("overcast (in-process notification)", ours, 36))
    print(latency_line("store floor (put + get)", floor, 36))
    print(f"  ratio of p50s overcast / store floor: {p50 / statistics.median(floor):.1f}")
    print(f"  target p50 < {TARGET_P50_MS:g} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
