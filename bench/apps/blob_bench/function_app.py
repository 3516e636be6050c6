"""Blob latency benchmark app: an HTTP function writes a blob; a blob trigger records how long it took to start."""

import json
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
MARKERS = os.environ.get("BENCH_MARKER_DIR", ".")


@app.route(route="write", methods=["POST"])
@app.blob_output(arg_name="out", path="bench/{rand-guid}.json", connection="AzureWebJobsStorage")
async def write(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(json.dumps({"sent": time.time()}))
    return func.HttpResponse(status_code=202)


@app.blob_trigger(arg_name="blob", path="bench/{name}.json", connection="AzureWebJobsStorage")
async def on_blob(blob: func.InputStream) -> None:
    now = time.time()
    sent = json.loads(blob.read())["sent"]
    with open(os.path.join(MARKERS, "latency"), "a") as f:
        f.write(f"{(now - sent) * 1000:.3f}\n")
