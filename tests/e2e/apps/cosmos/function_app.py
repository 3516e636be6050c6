"""Cosmos DB bindings and two change feed triggers (different lease prefixes) on one container."""

import json
import os
import uuid

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
FAST = {"feed_poll_delay": 200, "lease_acquire_interval": 500, "lease_renew_interval": 1000,
        "lease_expiration_interval": 3000}


@app.route(route="orders", methods=["POST"])
@app.cosmos_db_output(arg_name="doc", connection="CosmosConnection", database_name="shop", container_name="orders")
def add_order(req: func.HttpRequest, doc: func.Out[func.Document]) -> func.HttpResponse:
    doc.set(func.Document.from_dict(req.get_json()))
    return func.HttpResponse(status_code=201)


@app.route(route="batch", methods=["POST"])
@app.cosmos_db_output(arg_name="docs", connection="CosmosConnection", database_name="shop", container_name="orders")
def add_batch(req: func.HttpRequest, docs: func.Out[func.DocumentList]) -> func.HttpResponse:
    docs.set(func.DocumentList([func.Document.from_dict(d) for d in req.get_json()]))
    return func.HttpResponse(status_code=201)


@app.route(route="notes/{name}", methods=["POST"])
@app.cosmos_db_output(arg_name="note", connection="CosmosConnection", database_name="notes", container_name="byname",
                      create_if_not_exists=True, partition_key="/name")
def add_note(req: func.HttpRequest, note: func.Out[str]) -> func.HttpResponse:
    note.set(json.dumps({"id": str(uuid.uuid4()), "name": req.route_params["name"], "text": req.get_body().decode()}))
    return func.HttpResponse(status_code=201)


@app.route(route="orders/{customer}/{id}", methods=["GET"])
@app.cosmos_db_input(arg_name="found", connection="CosmosConnection", database_name="shop", container_name="orders",
                     id="{id}", partition_key="{customer}")
def get_order(req: func.HttpRequest, found: func.DocumentList) -> func.HttpResponse:
    if not found:
        return func.HttpResponse("not found", status_code=404)
    return func.HttpResponse(found[0].to_json(), mimetype="application/json")


@app.route(route="bycustomer/{customer}", methods=["GET"])
@app.cosmos_db_input(arg_name="orders", connection="CosmosConnection", database_name="shop", container_name="orders",
                     sql_query="SELECT * FROM c WHERE c.customer = {customer} ORDER BY c.n")
def by_customer(req: func.HttpRequest, orders: func.DocumentList) -> func.HttpResponse:
    return func.HttpResponse(json.dumps([d["id"] for d in orders]), mimetype="application/json")


@app.route(route="seen", methods=["GET"])
@app.cosmos_db_input(arg_name="seen", connection="CosmosConnection", database_name="shop", container_name="seen")
def list_seen(req: func.HttpRequest, seen: func.DocumentList) -> func.HttpResponse:
    return func.HttpResponse(json.dumps([dict(d) for d in seen]), mimetype="application/json")


def _record(fn: str, docs: func.DocumentList, out: func.Out[func.DocumentList]) -> None:
    out.set(func.DocumentList([func.Document.from_dict(
        {"id": str(uuid.uuid4()), "fn": fn, "doc": d["id"], "etag": d["_etag"], "pid": os.getpid()}) for d in docs]))


@app.cosmos_db_trigger(arg_name="docs", connection="CosmosConnection", database_name="shop", container_name="orders",
                       lease_container_prefix="a-", create_lease_container_if_not_exists=True, **FAST)
@app.cosmos_db_output(arg_name="out", connection="CosmosConnection", database_name="shop", container_name="seen")
def feed_a(docs: func.DocumentList, out: func.Out[func.DocumentList]) -> None:
    _record("a", docs, out)


@app.cosmos_db_trigger_v3(arg_name="docs", connection_string_setting="CosmosConnection", database_name="shop",
                          collection_name="orders", lease_collection_prefix="b-",
                          create_lease_collection_if_not_exists=True, max_items_per_invocation=3, **FAST)
@app.cosmos_db_output(arg_name="out", connection="CosmosConnection", database_name="shop", container_name="seen")
def feed_b(docs: func.DocumentList, out: func.Out[func.DocumentList]) -> None:
    if len(docs) > 3:
        raise RuntimeError(f"max_items_per_invocation is 3, got {len(docs)}")
    _record("b", docs, out)
