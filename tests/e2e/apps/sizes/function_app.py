"""Sizes: what a failed invocation keeps alive, and durable payload limits (tests/e2e/test_sizes.py).

Automatic garbage collection is off in this app's host, so only reference counting frees memory: an object still
alive after its invocation ended is one that something keeps (or a cycle that would wait for the collector).
"""

import gc
import weakref

import azure.functions as func

gc.disable()
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_tracked: list[weakref.ref] = []


class Payload:
    def __init__(self, data: bytes) -> None:
        self.data = data


@app.route(route="fail-big", methods=["POST"])
def fail_big(req: func.HttpRequest) -> func.HttpResponse:
    payload = Payload(req.get_body())
    _tracked.append(weakref.ref(payload))
    raise ValueError(f"failed holding {len(payload.data)} bytes")


@app.route(route="alive", methods=["GET"])
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(sum(1 for ref in _tracked if ref() is not None)))
