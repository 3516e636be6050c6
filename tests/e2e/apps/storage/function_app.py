"""Blob trigger, blob input/output and table input/output, as a user would write them."""

import json
import logging
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


@app.route(route="files/{name}", methods=["PUT"])
@app.blob_output(arg_name="out", path="uploads/{name}.txt", connection="AzureWebJobsStorage")
def upload(req: func.HttpRequest, out: func.Out[bytes]) -> func.HttpResponse:
    out.set(req.get_body())
    return func.HttpResponse("stored", status_code=201)


@app.route(route="files/{name}", methods=["GET"])
@app.blob_input(arg_name="stream", path="uploads/{name}.txt", connection="AzureWebJobsStorage")
def download(req: func.HttpRequest, stream: func.InputStream) -> func.HttpResponse:
    if stream is None:
        return func.HttpResponse("no such file", status_code=404)
    return func.HttpResponse(stream.read())


@app.route(route="processed/{name}", methods=["GET"])
@app.blob_input(arg_name="text", path="processed/{name}.out", connection="AzureWebJobsStorage", data_type="string")
def processed(req: func.HttpRequest, text: str) -> func.HttpResponse:
    return func.HttpResponse("missing", status_code=404) if text is None else func.HttpResponse(text)


@app.blob_trigger(arg_name="blob", path="uploads/{name}.txt", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="result", path="processed/{name}.out", connection="AzureWebJobsStorage")
@app.table_output(arg_name="run", table_name="Runs", connection="AzureWebJobsStorage")
def on_upload(blob: func.InputStream, result: func.Out[str], run: func.Out[str], context: func.Context) -> None:
    content = blob.read()
    mark("uploads", {"name": blob.name, "length": blob.length, "uri": blob.uri, "content": content.decode(),
                     "started": time.time(), "etag": (blob.blob_properties or {}).get("ETag")})
    result.set(content.decode().upper())
    run.set(json.dumps({"PartitionKey": "runs", "RowKey": context.invocation_id, "Name": blob.name,
                        "Length": blob.length}))


@app.blob_trigger(arg_name="data", path="broken/{name}", connection="AzureWebJobsStorage")
def always_fails(data: bytes) -> None:
    mark("broken", {"length": len(data)})
    raise RuntimeError("cannot process this blob")


@app.route(route="pid", methods=["GET"])
def pid(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(os.getpid()))


@app.route(route="runs", methods=["GET"])
@app.table_input(arg_name="rows", table_name="Runs", partition_key="runs", connection="AzureWebJobsStorage")
def runs(req: func.HttpRequest, rows: str) -> func.HttpResponse:
    return func.HttpResponse(rows, mimetype="application/json")


@app.route(route="people/{pk}/{rk}", methods=["GET"])
@app.table_input(arg_name="person", table_name="People", partition_key="{pk}", row_key="{rk}",
                 connection="AzureWebJobsStorage")
def person(req: func.HttpRequest, person: str) -> func.HttpResponse:
    # As on Azure, rowKey does not narrow a Python function's table input: the partition comes as an array.
    rk = req.route_params["rk"]
    found = next((row for row in json.loads(person) if row["RowKey"] == rk), None)
    if found is None:
        return func.HttpResponse("not found", status_code=404)
    return func.HttpResponse(json.dumps(found), mimetype="application/json")


@app.route(route="people", methods=["POST"])
@app.table_output(arg_name="people", table_name="People", partition_key="team", connection="AzureWebJobsStorage")
def add_people(req: func.HttpRequest, people: func.Out[str]) -> func.HttpResponse:
    people.set(req.get_body().decode())
    return func.HttpResponse("added", status_code=201)


@app.route(route="people", methods=["GET"])
@app.table_input(arg_name="found", table_name="People", filter="Age ge {minAge}", take=2,
                 connection="AzureWebJobsStorage")
def query_people(req: func.HttpRequest, found: str) -> func.HttpResponse:
    return func.HttpResponse(found, mimetype="application/json")


@app.queue_trigger(arg_name="msg", queue_name="render", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="template", path="templates/{template}.txt", connection="AzureWebJobsStorage",
                data_type="string")
@app.blob_output(arg_name="page", path="pages/{id}-{rand-guid}.txt", connection="AzureWebJobsStorage")
def render(msg: func.QueueMessage, template: str, page: func.Out[str]) -> None:
    body = msg.get_json()
    page.set((template or "<none>").replace("NAME", body["who"]))
    mark("render", {"id": body.get("id")})


@app.queue_trigger(arg_name="msg", queue_name="webjobs-blobtrigger-poison", connection="AzureWebJobsStorage")
def blob_poison(msg: func.QueueMessage) -> None:
    logging.info("poison blob message %s", msg.get_body().decode())
    mark("poison", json.loads(msg.get_body()))
