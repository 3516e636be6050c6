"""Sizes: what a failed invocation keeps alive, and durable payload limits (tests/e2e/test_sizes.py).

The tests run it with ``OVERCAST_DURABLE_MAX_PAYLOAD_BYTES=2000``.

Automatic garbage collection is off in this app's host, so only reference counting frees memory: an object still
alive after its invocation ended is one that something keeps (or a cycle that would wait for the collector).
"""

import gc
import json
import weakref

import azure.durable_functions as df
import azure.functions as func

gc.disable()
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
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


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    except Exception as exc:  # the SDK raises with the host's answer when the start is refused
        return func.HttpResponse(str(exc), status_code=400)
    return func.HttpResponse(json.dumps({"id": instance_id}), status_code=202)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(req.route_params["instance_id"])
    return func.HttpResponse(json.dumps({"runtimeStatus": found.runtime_status.value, "output": found.output}))


@app.orchestration_trigger(context_name="context")
def relay(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Asks ``grow`` for a text of the input's length, and returns it."""
    return (yield context.call_activity("grow", context.get_input()))


@app.activity_trigger(input_name="size")
def grow(size: int) -> str:
    return "g" * size
