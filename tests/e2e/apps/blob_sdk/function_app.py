"""Blob output bindings mixed with Storage SDK reads of the same blobs, and SDK-type bindings (BlobClient,
ContainerClient, StorageStreamDownloader) on blob inputs and a blob trigger, as the Python guide writes them."""

import json
import os
from pathlib import Path

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob
from azure.storage.blob import BlobServiceClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def mark(name: str, record: dict) -> None:
    folder = os.environ.get("MARKER_DIR")
    if folder:
        with open(Path(folder) / name, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@app.route(route="write/{name}", methods=["PUT"])
@app.blob_output(arg_name="out", path="mixed/{name}.txt", connection="AzureWebJobsStorage")
def write(req: func.HttpRequest, out: func.Out[bytes]) -> func.HttpResponse:
    out.set(req.get_body())
    return func.HttpResponse("stored", status_code=201)


@app.route(route="sdkread/{name}", methods=["GET"])
def sdk_read(req: func.HttpRequest) -> func.HttpResponse:
    service = BlobServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
    client = service.get_blob_client("mixed", f"{req.route_params['name']}.txt")
    return func.HttpResponse(client.download_blob().readall())


@app.route(route="client/{name}", methods=["GET"])
@app.blob_input(arg_name="client", path="mixed/{name}.txt", connection="AzureWebJobsStorage")
def via_client(req: func.HttpRequest, client: blob.BlobClient) -> func.HttpResponse:
    props = client.get_blob_properties()
    body = {"name": client.blob_name, "size": props.size, "content": client.download_blob().readall().decode()}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="container", methods=["GET"])
@app.blob_input(arg_name="container", path="mixed/unused", connection="AzureWebJobsStorage")
def via_container(req: func.HttpRequest, container: blob.ContainerClient) -> func.HttpResponse:
    return func.HttpResponse(json.dumps([b.name for b in container.list_blobs()]), mimetype="application/json")


@app.route(route="stream/{name}", methods=["GET"])
@app.blob_input(arg_name="stream", path="mixed/{name}.txt", connection="AzureWebJobsStorage")
def via_stream(req: func.HttpRequest, stream: blob.StorageStreamDownloader) -> func.HttpResponse:
    return func.HttpResponse(stream.readall())


@app.blob_trigger(arg_name="client", path="sdkin/{name}", connection="AzureWebJobsStorage")
def on_blob(client: blob.BlobClient) -> None:
    mark("sdkin", {"name": client.blob_name, "container": client.container_name,
                   "content": client.download_blob().readall().decode()})
