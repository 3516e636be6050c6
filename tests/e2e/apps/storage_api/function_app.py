"""A queue trigger and table bindings whose data the test reads and writes with the Storage SDKs."""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def mark(name: str, record: dict) -> None:
    folder = os.environ.get("MARKER_DIR")
    if folder:
        with open(Path(folder) / name, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@app.queue_trigger(arg_name="msg", queue_name="sdk-orders", connection="AzureWebJobsStorage")
@app.table_output(arg_name="row", table_name="Orders", connection="AzureWebJobsStorage")
def on_order(msg: func.QueueMessage, row: func.Out[str]) -> None:
    order = msg.get_json()
    mark("orders", {"id": msg.id, "body": order, "dequeue_count": msg.dequeue_count, "at": time.time()})
    row.set(json.dumps({"PartitionKey": "orders", "RowKey": str(order["id"]), "Item": order["item"],
                        "Quantity": order["quantity"]}))


@app.route(route="people/{pk}/{rk}", methods=["PUT"])
@app.table_output(arg_name="person", table_name="People", connection="AzureWebJobsStorage")
def add_person(req: func.HttpRequest, person: func.Out[str]) -> func.HttpResponse:
    person.set(json.dumps({"PartitionKey": req.route_params["pk"], "RowKey": req.route_params["rk"],
                           **req.get_json()}))
    return func.HttpResponse("stored", status_code=201)


@app.route(route="people/{pk}", methods=["GET"])
@app.table_input(arg_name="people", table_name="People", partition_key="{pk}", connection="AzureWebJobsStorage")
def list_people(req: func.HttpRequest, people: str) -> func.HttpResponse:
    return func.HttpResponse(people, mimetype="application/json")


@app.route(route="enqueue/{queue}", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="{queue}", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)
