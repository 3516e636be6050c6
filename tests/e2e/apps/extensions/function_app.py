import os

import azure.functions as func
from azure.functions import AppExtensionBase

CALLS: list[str] = []


class Recorder(AppExtensionBase):
    @classmethod
    def init(cls) -> None:
        CALLS.append("init")

    @classmethod
    def post_function_load_app_level(cls, function_name: str, function_directory: str, *args, **kwargs) -> None:
        CALLS.append(f"loaded:{function_name}")

    @classmethod
    def pre_invocation_app_level(cls, logger, context, func_args=None, *args, **kwargs) -> None:
        CALLS.append(f"pre:{context.function_name}")

    @classmethod
    def post_invocation_app_level(cls, logger, context, func_args=None, func_ret=None, *args, **kwargs) -> None:
        CALLS.append(f"post:{context.function_name}")


app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="calls")
def calls(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("function")
    return func.HttpResponse(",".join(CALLS) + f"|pid={os.getpid()}")
