"""The writer of tests/e2e/test_postgres_wakeups.py: HTTP functions that write through output bindings to the
app's PostgreSQL database, and no listener of its own (the other instance, apps/pg_wake, has the triggers)."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
STORE = "AzureWebJobsStorage"  # every binding on the app's PostgreSQL database


@app.route(route="send/servicebus/{tag}", methods=["POST"])
@app.service_bus_queue_output(arg_name="out", queue_name="wakejobs", connection=STORE)
def send_servicebus(req: func.HttpRequest, out: func.Out[str]) -> str:
    out.set(req.route_params["tag"])
    return "sent"


@app.route(route="send/blob/{tag}", methods=["POST"])
@app.blob_output(arg_name="out", path="wakeblobs/{tag}.txt", connection=STORE)
def send_blob(req: func.HttpRequest, out: func.Out[str]) -> str:
    out.set(req.route_params["tag"])
    return "sent"


@app.route(route="send/cosmos/{tag}", methods=["POST"])
@app.cosmos_db_output(arg_name="out", connection=STORE, database_name="wakedb", container_name="docs")
def send_cosmos(req: func.HttpRequest, out: func.Out[func.Document]) -> str:
    out.set(func.Document.from_dict({"id": req.route_params["tag"]}))
    return "sent"
