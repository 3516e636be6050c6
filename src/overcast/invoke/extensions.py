"""Worker extension hooks (``AppExtensionBase`` / ``FuncExtensionBase``), when PYTHON_ENABLE_WORKER_EXTENSIONS is on.

Hook failures are logged and swallowed, as the worker does; post hooks run only after a normal return.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("overcast.host.extensions")


def _hooks(function_name: str) -> tuple[Any, Any]:
    from azure.functions.extension.extension_meta import ExtensionMeta

    return ExtensionMeta.get_application_hooks(), ExtensionMeta.get_function_hooks(function_name)


def _call(hooks: Any, stage: str, **kwargs: Any) -> None:
    if hooks is None:
        return
    for hook in getattr(hooks, stage, ()):
        logger = logging.getLogger(f"azure_functions_worker.extension.{hook.ext_name}")
        try:
            hook.ext_impl(logger=logger, **kwargs) if "invocation" in stage else hook.ext_impl(**kwargs)
        except Exception:
            log.exception("Extension %s failed in %s", hook.ext_name, stage)


def post_function_load(function_name: str, function_directory: str) -> None:
    app_hooks, func_hooks = _hooks(function_name)
    _call(func_hooks, "post_function_load", function_name=function_name, function_directory=function_directory)
    _call(app_hooks, "post_function_load_app_level", function_name=function_name,
          function_directory=function_directory)


def pre_invocation(function_name: str, context: Any, args: dict[str, Any]) -> None:
    app_hooks, func_hooks = _hooks(function_name)
    _call(app_hooks, "pre_invocation_app_level", context=context, func_args=args)
    _call(func_hooks, "pre_invocation", context=context, func_args=args)


def post_invocation(function_name: str, context: Any, args: dict[str, Any], result: Any) -> None:
    app_hooks, func_hooks = _hooks(function_name)
    _call(func_hooks, "post_invocation", context=context, func_args=args, func_ret=result)
    _call(app_hooks, "post_invocation_app_level", context=context, func_args=args, func_ret=result)
