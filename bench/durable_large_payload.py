"""Unrelated HTTP latency while large durable payloads go through the host (embedded SQLite store).

``overcast start`` (one instance) runs ``bench/apps/durable_bench``. A client thread times ``GET /api/ping`` (an
``async def`` function that answers at once) back to back with a short gap. Baseline, in the same run: the pings
with nothing else going on. Then ``--count`` orchestrations ``carry`` start through the durable HTTP API, one after
another, each with a JSON string input of ``--size`` bytes (by default the durable payload limit, 512 KiB): the input
is written to the store, replayed to the orchestrator, sent to an activity, returned by it and becomes the output,
so every durable payload path runs with it; the pings are timed until the last one completes.

    python bench/durable_large_payload.py [--size 524288] [--count 5] [--gap-ms 5]

Target (issue 8): unrelated HTTP p99 < 50 ms while large durable payloads are written.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DURABLE_APP, command_line, free_port, latency_line, overcast_cmd, percentile, start, stop, wait_200

TARGET_P99_MS = 50.0
START = "/runtime/webhooks/durabletask/orchestrators/carry"


class Pinger(threading.Thread):
    """Times ``GET /api/ping`` until stopped; ``samples`` are milliseconds."""

    def __init__(self, port: int, gap_s: float) -> None:
        super().__init__(daemon=True)
        self._port, self._gap = port, gap_s
        self.samples: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        while not self.stopping.is_set():
            began = time.perf_counter()
            conn.request("GET", "/api/ping")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /api/ping answered {response.status}")
            self.samples.append((time.perf_counter() - began) * 1000)
            time.sleep(self._gap)
        conn.close()


def pings(port: int, gap_s: float, during: float | None = None, work: object = None) -> list[float]:
    """Ping for ``during`` seconds, or while ``work()`` runs."""
    pinger = Pinger(port, gap_s)
    pinger.start()
    try:
        if callable(work):
            work()
        else:
            time.sleep(during or 0)
    finally:
        pinger.stopping.set()
        pinger.join()
    return pinger.samples


def carry_payloads(port: int, size: int, count: int) -> None:
    """Start ``count`` orchestrations one after another, each with a ``size``-byte input; wait for each."""
    # As the Python SDK's client sends an input: JSON text of the JSON text (a string in a string).
    body = json.dumps(json.dumps("x" * (size - 6))).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(count):
        conn.request("POST", START, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status != 202:
            raise RuntimeError(f"starting 'carry' answered {response.status}: {answer[:300]!r}")
        status_url = json.loads(answer)["statusQueryGetUri"].split(str(port), 1)[1]
        deadline = time.monotonic() + 120
        while True:
            conn.request("GET", status_url + "&showInput=false")
            status = conn.getresponse()
            record = json.loads(status.read())
            if record["runtimeStatus"] == "Completed":
                if len(record["output"]) != size - 6:
                    raise RuntimeError("the orchestration's output is not its input")
                break
            if record["runtimeStatus"] not in ("Pending", "Running") or time.monotonic() > deadline:
                raise RuntimeError(f"'carry' ended {record['runtimeStatus']}: {str(record.get('output'))[:300]}")
            time.sleep(0.5)  # each status carries the output: poll gently, it is not the write being measured
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512 * 1024)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-durable-payload-"))
    port = free_port()
    env = {"OVERCAST_DURABLE_MAX_PAYLOAD_BYTES": str(max(args.size, 512 * 1024))}
    proc = start(overcast_cmd(DURABLE_APP, port, tmp / "data"), tmp / "overcast.log", env=env)
    try:
        wait_200(port, "/api/ping", proc=proc)
        pings(port, args.gap_ms / 1000, during=1.0)  # warm-up
        carry_payloads(port, 1000, 1)  # warm-up of the durable path with a small payload
        began = time.perf_counter()
        loaded = pings(port, args.gap_ms / 1000, work=lambda: carry_payloads(port, args.size, args.count))
        took = time.perf_counter() - began
        idle = pings(port, args.gap_ms / 1000, during=max(2.0, took))
    finally:
        stop(proc)
    p99 = percentile(loaded, 99)
    print(f"unrelated HTTP latency (GET /api/ping) while {args.count} orchestrations carry a {args.size:,}-byte input "
          f"through an activity and back ({took:.1f} s), gap {args.gap_ms:g} ms")
    print(latency_line("idle (same run)", idle, 34, count=True))
    print(latency_line("while large payloads are written", loaded, 34, count=True))
    print(f"  ratio loaded / idle: p50 {percentile(loaded, 50) / percentile(idle, 50):.1f}, "
          f"p99 {p99 / percentile(idle, 99):.1f}")
    print(f"  target p99 < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}")
    print(f"  command: {command_line()}")
    print(f"  logs and data: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
