"""Scale-out sample: run as several instances on one PostgreSQL database (AzureWebJobsStorage=postgresql://...).

Every function reports which process ran it, so a test can tell that work spread over the instances and that each
piece of work ran once.
"""

import json
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="done", queue_name="done", connection="AzureWebJobsStorage")
def worker(msg: func.QueueMessage, done: func.Out[str]) -> None:
    delay = float(os.environ.get("PG_SCALE_WORK_SECONDS", "0"))
    if delay:
        time.sleep(delay)
    done.set(json.dumps({"body": msg.get_body().decode(), "pid": os.getpid(), "count": msg.dequeue_count}))


@app.timer_trigger(arg_name="timer", schedule="*/2 * * * * *", run_on_startup=False)
@app.queue_output(arg_name="ticks", queue_name="ticks", connection="AzureWebJobsStorage")
def ticker(timer: func.TimerRequest, ticks: func.Out[str]) -> None:
    ticks.set(json.dumps({"pid": os.getpid(), "at": time.time()}))


@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(os.getpid()))


@app.route(route="fanout/{count}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def fanout(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("fan_out", None, int(req.route_params["count"]))
    return func.HttpResponse(instance_id)


@app.route(route="status/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(req.route_params["id"])
    if not found:
        return func.HttpResponse("unknown", status_code=404)
    return func.HttpResponse(json.dumps(found.to_json(), default=str), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    count = context.get_input()
    results = yield context.task_all([context.call_activity("which_process", i) for i in range(count)])
    return results


@app.activity_trigger(input_name="index")
def which_process(index: int) -> dict[str, int]:
    time.sleep(0.01)  # long enough for the instances to share the work
    return {"index": index, "pid": os.getpid()}


@app.route(route="chains/{count}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def chains(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start ``count`` chains (instance ids chain-0, chain-1, ...)."""
    ids = [await client.start_new("chain", f"chain-{n}", None) for n in range(int(req.route_params["count"]))]
    return func.HttpResponse(json.dumps(ids), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Four activities one after another: five episodes, each a commit an instance may be killed in the middle of."""
    results = []
    for step in range(4):
        results.append((yield context.call_activity("which_process", step)))
    return [item["index"] for item in results]
