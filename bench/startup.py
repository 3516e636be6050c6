"""Time from process start to the first 200 response: `overcast start` against the same ASGI server starting a
minimal ASGI app that imports the same function_app.py, alternating, in the same run.

    python bench/startup.py [--runs 10]

Targets (issue #2): Overcast's median ≤ 1.5x the baseline's, and under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import APPS, free_port, overcast_cmd, start, stop, uvicorn_cmd, wait_200


def once(kind: str, tmp: Path, run: int) -> float:
    port = free_port()
    app_dir = APPS / "hello_async"
    begin = time.perf_counter()
    if kind == "overcast":
        proc = start(overcast_cmd(app_dir, port, tmp / f"d{run}"), tmp / "overcast.log")
        path = "/api/hello"
    else:
        proc = start(uvicorn_cmd("startup_asgi:app", port), tmp / "baseline.log", cwd=APPS,
                     env={"BENCH_SCRIPT_ROOT": str(app_dir)})
        path = "/"
    try:
        wait_200(port, path, proc=proc)
        return time.perf_counter() - begin
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="overcast-startup-"))
    once("overcast", tmp, -1)  # warm the disk cache for both
    once("baseline", tmp, -1)
    times: dict[str, list[float]] = {"baseline": [], "overcast": []}
    for run in range(args.runs):
        for kind in times:
            times[kind].append(once(kind, tmp, run))
    base, ours = statistics.median(times["baseline"]), statistics.median(times["overcast"])
    for kind, values in times.items():
        print(f"{kind:9} median {statistics.median(values) * 1000:7.1f} ms  min {min(values) * 1000:7.1f} ms  "
              f"max {max(values) * 1000:7.1f} ms")
    print(f"ratio overcast/baseline: {ours / base:.2f}  (targets: <= 1.5, and overcast median < 500 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
