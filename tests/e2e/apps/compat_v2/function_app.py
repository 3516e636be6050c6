# ruff: noqa: UP006, UP035  (typing.List is what apps write and what the library's converters understand)
"""Apps that work on Azure (Microsoft's own worker e2e apps, docs samples) and must work here unchanged."""

import json
import logging
from typing import List

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
STORAGE = "AzureWebJobsStorage"


# $return to a blob or queue output on an HTTP function whose http output is never set: the host answers from
# the return value (Microsoft's test_blob_io_return / test_queue_return expect 200).
@app.route(route="put_blob_return", binding_arg_name="resp")
@app.blob_output(arg_name="$return", path="compat/return.txt", connection=STORAGE)
def put_blob_return(req: func.HttpRequest, resp: func.Out[func.HttpResponse]) -> str:
    return "FROM RETURN"


@app.route(route="put_queue_return", binding_arg_name="resp")
@app.queue_output(arg_name="$return", queue_name="compat-return", connection=STORAGE)
def put_queue_return(req: func.HttpRequest, resp: func.Out[str]) -> bytes:
    return req.get_body()


@app.route(route="put_queue_json", binding_arg_name="resp")
@app.queue_output(arg_name="$return", queue_name="compat-return", connection=STORAGE)
def put_queue_json(req: func.HttpRequest, resp: func.Out[str]):  # List[str] as the return annotation fails on Azure too
    return ["json-a", "json-b"]


# The http output, when set, wins over the return value.
@app.route(route="table_put/{rk}", binding_arg_name="resp")
@app.table_output(arg_name="$return", table_name="Compat", connection=STORAGE)
def table_put(req: func.HttpRequest, resp: func.Out[func.HttpResponse]) -> str:
    rk = req.route_params["rk"]
    resp.set(func.HttpResponse(f"stored {rk}", status_code=201))
    return json.dumps({"PartitionKey": "p", "RowKey": rk, "Value": rk})


@app.queue_trigger(arg_name="msg", queue_name="compat-return", connection=STORAGE)
@app.blob_output(arg_name="$return", path="compat/q-{queueTrigger}.txt", connection=STORAGE)
def from_return_queue(msg: func.QueueMessage) -> str:
    return msg.get_body().decode()


@app.route(route="blob/{name}")
@app.blob_input(arg_name="text", path="compat/{name}.txt", connection=STORAGE, data_type="string")
def get_blob(req: func.HttpRequest, text: str) -> func.HttpResponse:
    return func.HttpResponse("missing", status_code=404) if text is None else func.HttpResponse(text)


# Collections in annotations (the library's converters accept them).
@app.route(route="put_queue_list", binding_arg_name="resp")
@app.queue_output(arg_name="msgs", queue_name="compat-list", connection=STORAGE)
def put_queue_list(req: func.HttpRequest, msgs: func.Out[List[str]], resp: func.Out[func.HttpResponse]) -> None:
    msgs.set(["one", "two"])
    resp.set(func.HttpResponse("queued"))


@app.route(route="put_queue_messages")
@app.queue_output(arg_name="msgs", queue_name="compat-list", connection=STORAGE)
def put_queue_messages(req: func.HttpRequest, msgs: func.Out[func.QueueMessage]) -> str:
    # Out[List[func.QueueMessage]] is rejected by the library's own check (on Azure too): use List[str].
    msgs.set(func.QueueMessage(body="three"))
    return "queued"


@app.queue_trigger(arg_name="msg", queue_name="compat-list", connection=STORAGE)
@app.blob_output(arg_name="$return", path="compat/l-{queueTrigger}.txt", connection=STORAGE)
def from_list_queue(msg: func.QueueMessage) -> str:
    return msg.get_body().decode()


@app.event_hub_message_trigger(arg_name="events", event_hub_name="hub", connection="EventHubConnection",
                               cardinality=func.Cardinality.MANY)
def hub_batch(events: List[func.EventHubEvent]) -> None:
    logging.info("%d events", len(events))


# A generic (table) input gives the function an implicit output, as in the worker: returning a value is allowed.
@app.route(route="implicit_http", binding_arg_name="resp")
@app.generic_input_binding(arg_name="rows", type="table", tableName="Compat", partitionKey="p",
                           connection=STORAGE)
def implicit_http(req: func.HttpRequest, rows: str, resp: func.Out[func.HttpResponse]) -> str:
    return f"{len(json.loads(rows))} rows"


@app.queue_trigger(arg_name="msg", queue_name="compat-implicit", connection=STORAGE)
@app.generic_input_binding(arg_name="rows", type="table", tableName="Compat", partitionKey="p",
                           connection=STORAGE)
def implicit_queue(msg: func.QueueMessage, rows: str) -> str:
    return rows


# [QUIRK] rowKey is ignored for Python on Azure: the function gets the whole partition as an array.
@app.route(route="table_get/{rk}")
@app.table_input(arg_name="entity", table_name="Compat", partition_key="p", row_key="{rk}", connection=STORAGE)
def table_get(req: func.HttpRequest, entity: str) -> func.HttpResponse:
    return func.HttpResponse(entity, mimetype="application/json")


# The documented retry sample: give up quietly on the last attempt, raise before it.
@app.queue_trigger(arg_name="msg", queue_name="compat-retry", connection=STORAGE)
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:00")
def retry_sample(msg: func.QueueMessage, context: func.Context) -> None:
    retry = context.retry_context
    logging.info("retry sample attempt %d of %d", retry.retry_count, retry.max_retry_count)
    if retry.retry_count == retry.max_retry_count:
        logging.info("retry sample gave up quietly")
        return
    raise RuntimeError(f"failing attempt {retry.retry_count}")
