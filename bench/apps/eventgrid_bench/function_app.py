"""Event Grid benchmark app (bench/eventgrid_throughput.py): a no-op ``async def`` Event Grid function fed by the
local topic ``bench`` (eventgrid.json). It counts calls in memory and writes one file once it has seen
``BENCH_EXPECTED`` events, so the measurement adds no I/O per event."""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))
_seen = {"count": 0, "first": 0.0}


@app.event_grid_trigger(arg_name="event")
async def drain(event: func.EventGridEvent) -> None:
    now = time.time()
    _seen["count"] += 1
    if _seen["count"] == 1:
        _seen["first"] = now
    if _seen["count"] == _EXPECTED:
        path = Path(os.environ["BENCH_MARKER_DIR"]) / "throughput"
        path.write_text(json.dumps({"first": _seen["first"], "last": now, "count": _seen["count"]}))
