"""Durable Functions benchmark app (bench/durable_throughput.py, bench/durable_latency.py, bench/durable_fanout.py,
bench/durable_large_payload.py).

Written exactly as for Azure. Nothing here writes anything per call: the benchmarks read the instances' times
(created, last updated, the first OrchestratorStarted) from the store afterwards, so the host does only the
orchestration work while it is being measured.
"""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def chain5(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """HelloSequence5: five activities one after another."""
    results = []
    for step in range(5):
        results.append((yield context.call_activity("noop", step)))
    return results


@app.orchestration_trigger(context_name="context")
def chain3(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Hello3, the latency scenario of the Netherite paper: three activities one after another."""
    results = []
    for step in range(3):
        results.append((yield context.call_activity("noop", step)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """``input`` activities at once, then their sum (fan-out/fan-in)."""
    count = context.get_input()
    results = yield context.task_all([context.call_activity("noop", n) for n in range(count)])
    return sum(results)


@app.activity_trigger(input_name="value")
async def noop(value: int) -> int:
    return value


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The client start the latency benchmark times: ``start_new``, then 202 with the instance id as the body."""
    instance_id = await client.start_new(req.route_params["name"], None, None)
    return func.HttpResponse(instance_id, status_code=202)


@app.orchestration_trigger(context_name="context")
def carry(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """bench/durable_large_payload.py: the input goes to an activity and back, and is the output."""
    value = context.get_input()
    return (yield context.call_activity("echo", value))


@app.activity_trigger(input_name="value")
def echo(value: str) -> str:
    return value


@app.route(route="ping", methods=["GET"])
async def ping(req: func.HttpRequest) -> func.HttpResponse:
    """An unrelated request, timed while large payloads go through the host."""
    return func.HttpResponse("pong")
