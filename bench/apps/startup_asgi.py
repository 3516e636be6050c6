"""Start-up baseline: a minimal ASGI app that imports the same function_app.py Overcast serves."""

import os
import sys

sys.path.append(os.environ["BENCH_SCRIPT_ROOT"])
import function_app  # noqa: F401  (the import is the point: same user code as Overcast loads)


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
