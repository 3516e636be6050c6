"""An app full of secrets: connection settings with account keys, SAS signatures, URL passwords; functions in
error because of them; functions that log and raise them."""

import logging
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
SETTINGS = ("StorageConn", "SasConn", "BusConn", "PgConn", "SqlConn")


@app.queue_trigger(arg_name="msg", queue_name="work", connection="StorageConn")
def on_account_key(msg: func.QueueMessage) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="inbox/{name}", connection="SasConn")
def on_sas(blob: func.InputStream) -> None:
    pass


# A SQL Server connection has no backend: the function is in error, and says so without the password. (A
# postgresql:// URL is served now: an unreachable one stops the start, see test_postgres_operations.py.)
@app.route(route="to-sql")
@app.queue_output(arg_name="out", queue_name="out", connection="SqlConn")
def to_sql(req: func.HttpRequest, out: func.Out[str]) -> str:
    return "never"


@app.route(route="leak")
def leak(req: func.HttpRequest) -> func.HttpResponse:
    for name in SETTINGS:
        logging.info("setting %s is %s", name, os.environ[name])
    logging.warning("calling https://acct.blob.core.windows.net/c/b?sv=2022&sig=S3cretUrlSig&se=2030 now")
    return func.HttpResponse("logged")


@app.route(route="fail")
def fail(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError(f"cannot connect with {os.environ['PgConn']} or {os.environ['SqlConn']}")
