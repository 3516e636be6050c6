"""An app with one function of each kind the Kubernetes manifests split between deployments."""

import azure.durable_functions as df
import azure.functions as func
from azure.functions.warmup import WarmUpContext

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hello")


@app.route(route="start/{name}")
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    result = yield context.call_activity("say", "kube")
    return result


@app.activity_trigger(input_name="name")
def say(name: str) -> str:
    return f"hello {name}"


@app.queue_trigger(arg_name="msg", queue_name="%ORDERS_QUEUE%", connection="AzureWebJobsStorage")
def orders(msg: func.QueueMessage) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="uploads/images/{name}", connection="AzureWebJobsStorage")
def images(blob: func.InputStream) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="events/{name}", connection="AzureWebJobsStorage", source="EventGrid")
def evented(blob: func.InputStream) -> None:
    pass


@app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *")
def nightly(timer: func.TimerRequest) -> None:
    pass


@app.warm_up_trigger("warmupContext")
def warmup(warmupContext: WarmUpContext) -> None:
    pass


@app.service_bus_queue_trigger(arg_name="msg", queue_name="jobs", connection="ServiceBusConnection")
def jobs(msg: func.ServiceBusMessage) -> None:
    pass


@app.event_hub_message_trigger(arg_name="event", event_hub_name="telemetry", connection="EventHubConnection")
def telemetry(event: func.EventHubEvent) -> None:
    pass


@app.cosmos_db_trigger(arg_name="docs", database_name="shop", container_name="orders", connection="CosmosConnection",
                       create_lease_container_if_not_exists=True)
def changes(docs: func.DocumentList) -> None:
    pass


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    pass
