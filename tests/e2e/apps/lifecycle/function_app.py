"""Instance lifecycle: the warmup function, a slow function to stop around, a keyed function."""

import logging
import os
import time

import azure.functions as func
from azure.functions.warmup import WarmUpContext

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
WARMED: list[str] = []


@app.warm_up_trigger("warmupContext")
def warmup(warmupContext: WarmUpContext) -> None:
    WARMED.append(type(warmupContext).__name__)
    logging.info("Function App instance is warm: pid %s got a %s", os.getpid(), type(warmupContext).__name__)


@app.route(route="warmed")
def warmed(req: func.HttpRequest) -> str:
    """Whether this instance ran its warmup function before serving (and how often)."""
    return f"{os.getpid()} {','.join(WARMED)}"


@app.route(route="slow")
def slow(req: func.HttpRequest) -> str:
    time.sleep(float(req.params.get("s", "1")))
    return "done"
