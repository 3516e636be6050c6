"""Durable Functions sample app covering every pattern, written exactly as for Azure."""

import json
import logging
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# ---------------------------------------------------------------------------------------------- HTTP client API


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"),
                                         json.loads(body) if body else None)
    logging.info("Started orchestration with ID = '%s'.", instance_id)
    return client.create_check_status_response(req, instance_id)


@app.route(route="run/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def run_and_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], None, json.loads(body) if body else None)
    return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 20000, 50)


@app.route(route="status/{id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(req.route_params["id"], show_history=True, show_history_output=True)
    if not found:
        return func.HttpResponse("unknown", status_code=404)
    payload = found.to_json()
    payload["historyEvents"] = getattr(found, "historyEvents", None)  # kept by the SDK as an extra attribute
    return func.HttpResponse(json.dumps(payload, default=str), mimetype="application/json")


@app.route(route="raise/{id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    await client.raise_event(req.route_params["id"], req.route_params["event"], json.loads(body) if body else None)
    return func.HttpResponse(status_code=202)


@app.route(route="terminate/{id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def terminate(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.terminate(req.route_params["id"], "stopped by test")
    return func.HttpResponse(status_code=202)


@app.route(route="rewind/{id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def rewind(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.rewind(req.route_params["id"], "try again")
    return func.HttpResponse(status_code=202)


@app.route(route="counter/{key}/{op}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    entity = df.EntityId("Counter", req.route_params["key"])
    await client.signal_entity(entity, req.route_params["op"], json.loads(body) if body else None)
    return func.HttpResponse(status_code=202)


@app.route(route="counter/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    state = await client.read_entity_state(df.EntityId("Counter", req.route_params["key"]))
    if not state.entity_exists:
        return func.HttpResponse("no entity", status_code=404)
    return func.HttpResponse(json.dumps(state.entity_state), mimetype="application/json")


@app.route(route="pid", methods=["GET"])
def pid(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(os.getpid()))


@app.route(route="channel", methods=["GET"])
@app.durable_client_input(client_name="client")
async def channel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """What only the app's own code sees: the rpcBaseUrl of its durable client (and which instance answered)."""
    url = client._orchestration_bindings.rpc_base_url
    return func.HttpResponse(json.dumps({"rpcBaseUrl": url, "pid": os.getpid()}), mimetype="application/json")


@app.route(route="slow/{n}", methods=["GET"])
def slow_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    """For call_http: answers 202 with a Location the first time, then 200."""
    n = int(req.route_params["n"])
    if n > 0:
        headers = {"Location": req.url.replace(f"/slow/{n}", f"/slow/{n - 1}"), "Retry-After": "0"}
        return func.HttpResponse(status_code=202, headers=headers)
    return func.HttpResponse(json.dumps({"done": True}), mimetype="application/json")


# ---------------------------------------------------------------------------------------------- orchestrations


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    results = []
    for city in cities:
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = int(context.get_input() or 10)
    tasks = [context.call_activity("double", i) for i in range(count)]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def first_of(context: df.DurableOrchestrationContext):
    fast = context.call_activity("hello", "fast")
    slow = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    winner = yield context.task_any([fast, slow])
    if not slow.is_completed:
        slow.cancel()
    return "activity" if winner == fast else "timer"


@app.orchestration_trigger(context_name="context")
def short_timer(context: df.DurableOrchestrationContext):
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(seconds=1))
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + timedelta(seconds=int(context.get_input() or 30)))
    approved = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approved, timeout])
    if winner == approved:
        timeout.cancel()
        return {"approved": approved.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def events_in_order(context: df.DurableOrchestrationContext):
    first = yield context.wait_for_external_event("First")
    second = yield context.wait_for_external_event("Second")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    child_id = f"{context.instance_id}:child"
    named = yield context.call_sub_orchestrator("chain", ["A"], child_id)
    unnamed = yield context.call_sub_orchestrator("chain", ["B"])
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    flaky = yield context.call_sub_orchestrator_with_retry("flaky_child", retry, context.instance_id)
    return [named, unnamed, flaky]


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    attempt = yield context.call_activity("count_attempt", f"child-{context.get_input()}")
    if attempt < 2:
        raise ValueError(f"child attempt {attempt} fails")
    return f"child ok after {attempt}"


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=4)
    result = yield context.call_activity_with_retry("flaky", retry, context.instance_id)
    return result


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", "boom")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def caught(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", "caught")
    except Exception as exc:
        return f"caught: {exc}"
    return "no error"


@app.orchestration_trigger(context_name="context")
def fails_once(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "before")
    second = yield context.call_activity("fail_first", context.instance_id)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext):
    n = int(context.get_input() or 0)
    context.set_custom_status({"n": n})
    if n < 3:
        yield context.create_timer(context.current_utc_datetime)
        context.continue_as_new(n + 1)
        return None
    return n


@app.orchestration_trigger(context_name="context")
def deterministic(context: df.DurableOrchestrationContext):
    first = str(context.new_uuid())
    t1 = context.current_utc_datetime.isoformat()
    yield context.call_activity("hello", "x")
    second = str(context.new_uuid())
    t2 = context.current_utc_datetime.isoformat()
    context.set_custom_status("done")
    return {"uuids": [first, second], "times": [t1, t2]}


@app.orchestration_trigger(context_name="context")
def http_call(context: df.DurableOrchestrationContext):
    url = context.get_input()
    response = yield context.call_http("GET", url)
    # SDK 1.x hands the orchestrator the response as a dict (statusCode, headers, content).
    return {"status": response["statusCode"], "content": json.loads(response["content"])}


@app.orchestration_trigger(context_name="context")
def use_counter(context: df.DurableOrchestrationContext):
    entity = df.EntityId("Counter", context.get_input() or "orch")
    context.signal_entity(entity, "add", 5)
    yield context.call_entity(entity, "add", 10)
    value = yield context.call_entity(entity, "get")
    return value


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    yield context.wait_for_external_event("Never")
    return "never"


# ---------------------------------------------------------------------------------------------- activities


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="n")
def double(n: int) -> int:
    folder = os.environ.get("MARKER_DIR")
    if folder:
        with open(Path(folder) / "double", "a", encoding="utf-8") as f:
            f.write(f"{n}\n")
    return n * 2


@app.activity_trigger(input_name="reason")
def explode(reason: str) -> str:
    raise RuntimeError(f"activity failed: {reason}")


def _attempts(key: str) -> int:
    folder = Path(os.environ.get("MARKER_DIR") or tempfile.gettempdir())
    path = folder / f"attempts-{key.replace(':', '_')}"
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    attempt = _attempts(key)
    if attempt < 3:
        raise ValueError(f"attempt {attempt} fails")
    return f"ok after {attempt}"


@app.activity_trigger(input_name="key")
def fail_first(key: str) -> str:
    attempt = _attempts(f"once-{key}")
    if attempt == 1:
        raise RuntimeError("first attempt fails")
    return f"attempt {attempt}"


@app.activity_trigger(input_name="key")
def count_attempt(key: str) -> int:
    return _attempts(key)


# ---------------------------------------------------------------------------------------------- entities


@app.entity_trigger(context_name="context")
def Counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
        context.set_state(value)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "get":
        context.set_result(value)
    elif operation == "delete":
        context.destruct_on_exit()
