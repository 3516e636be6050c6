"""Requests/s and p99 of hello-world functions through Overcast against a bare ASGI app on the same server.

Same server (uvicorn + httptools + uvloop, 1 process), same load generator (wrk, 1 thread, 32 connections),
same run: rounds alternate bare → async → sync so machine noise hits all three alike, and ratios are taken
within a round. Overcast runs with the logging a user gets by default (Executing/Executed lines, to a file).

    python bench/http_throughput.py [--duration 10] [--rounds 3] [--connections 32]

Targets (issue #2): async ≥ 0.6 of bare, sync ≥ 0.4, async p99 ≤ 2x bare's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import APPS, free_port, overcast_cmd, start, stop, uvicorn_cmd, wait_200


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx responses")
    return rps, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed as the load generator: apt-get install wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="overcast-bench-"))
    ports = {name: free_port() for name in ("bare", "async", "sync", "async-nolog")}
    procs = {
        "bare": start(uvicorn_cmd("bare_asgi:app", ports["bare"]), tmp / "bare.log", cwd=APPS),
        "async": start(overcast_cmd(APPS / "hello_async", ports["async"], tmp / "d1"), tmp / "async.log"),
        "sync": start(overcast_cmd(APPS / "hello_sync", ports["sync"], tmp / "d2"), tmp / "sync.log"),
        # Not a target, a diagnosis: the same async app with the Executing/Executed lines switched off.
        "async-nolog": start([*overcast_cmd(APPS / "hello_async", ports["async-nolog"], tmp / "d3"),
                              "--user-log-level", "None"], tmp / "async-nolog.log"),
    }
    paths = {"bare": "/", "async": "/api/hello", "sync": "/api/hello", "async-nolog": "/api/hello"}
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in procs}
    try:
        for name, proc in procs.items():
            wait_200(ports[name], paths[name], proc=proc)
            wrk(f"http://127.0.0.1:{ports[name]}{paths[name]}", 2, args.connections)  # warm-up
        for round_no in range(args.rounds):
            for name in procs:
                results[name].append(wrk(f"http://127.0.0.1:{ports[name]}{paths[name]}", args.duration,
                                         args.connections))
            line = ", ".join(f"{k} {v[-1][0]:,.0f} req/s p99 {v[-1][1]:.2f} ms" for k, v in results.items())
            print(f"round {round_no + 1}: {line}", flush=True)
    finally:
        for proc in procs.values():
            stop(proc)
    print()
    print(f"{'config':12} {'req/s (median)':>15} {'p99 ms (median)':>16} {'ratio req/s':>12} {'ratio p99':>10}")
    base = results["bare"]
    for name, runs in results.items():
        ratios = [r[0] / b[0] for r, b in zip(runs, base, strict=True)]
        p99_ratios = [r[1] / b[1] for r, b in zip(runs, base, strict=True)]
        rps, p99 = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{name:12} {rps:>15,.0f} {p99:>16.2f} "
              f"{statistics.median(ratios):>12.2f} {statistics.median(p99_ratios):>10.2f}")
    print("\ntargets: async ratio >= 0.60, sync ratio >= 0.40, async p99 ratio <= 2.0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
