"""Turn the imported app (v2 FunctionApp or v1 folders) into sorted, validated FunctionSpecs."""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from overcast.app import loader
from overcast.app.spec import BindingSpec, FunctionSpec, RetrySpec
from overcast.app.validate import host_errors, worker_check
from overcast.config.timespan import parse_timespan
from overcast.config.truthy import parse_bool
from overcast.errors import AppLoadError, ConfigError, FunctionLoadError

log = logging.getLogger("overcast.host.startup")

_DIRECTIONS: dict[str, Literal["in", "out", "inout"]] = {"in": "in", "out": "out", "inout": "inout"}


@dataclass
class AppIndex:
    """The indexed app: every function (sorted by name, case-insensitive), including those in error."""

    model: Literal["v2", "v1", "empty"]
    functions: list[FunctionSpec] = field(default_factory=list)
    app_object: Any = None
    streaming_request_type: Any = None
    excluded: list[str] = field(default_factory=list)
    # The functions the allow list left out: other instances of the app may run them, and app-wide duties (Event
    # Grid routing) must know of them.
    excluded_functions: list[FunctionSpec] = field(default_factory=list)

    def get(self, name: str) -> FunctionSpec | None:
        lowered = name.lower()
        return next((f for f in self.functions if f.name.lower() == lowered), None)


def _binding(raw: Mapping[str, Any]) -> BindingSpec:
    direction = _DIRECTIONS.get(str(raw.get("direction", "in")).lower())
    if direction is None:
        raise ValueError(f"unknown binding direction {raw.get('direction')!r}")
    data_type = raw.get("dataType")
    return BindingSpec(
        name=str(raw.get("name", "")),
        type=str(raw.get("type", "")),
        direction=direction,
        data_type=str(data_type).lower() if data_type and str(data_type).upper() != "UNDEFINED" else None,
        raw=dict(raw),
    )


def _seconds(value: Any, what: str) -> float:
    return parse_timespan(str(value), what=what)


def parse_retry(policy: Mapping[str, Any] | None, *, what: str) -> RetrySpec | None:
    """A retry policy from ``@app.retry`` (snake_case) or function.json/host.json (camelCase)."""
    if not policy:
        return None
    flat = {k.replace("_", "").lower(): v for k, v in policy.items()}
    strategy = str(flat.get("strategy", "")).replace("_", "").lower()
    if strategy not in ("fixeddelay", "exponentialbackoff"):
        raise ConfigError(f"{what}: retry strategy must be fixedDelay or exponentialBackoff, got {strategy!r}.")
    if "maxretrycount" not in flat:
        raise ConfigError(f"{what}: retry maxRetryCount is required.")
    try:
        count = int(str(flat["maxretrycount"]))
    except ValueError:
        raise ConfigError(f"{what}: retry maxRetryCount must be an integer.") from None
    if count < -1:
        raise ConfigError(f"{what}: retry maxRetryCount must be -1 (forever) or more.")
    if strategy == "fixeddelay":
        if "delayinterval" not in flat:
            raise ConfigError(f"{what}: fixedDelay retry needs delayInterval (hh:mm:ss).")
        return RetrySpec("fixed_delay", count, delay_interval=_seconds(flat["delayinterval"], what))
    if "minimuminterval" not in flat or "maximuminterval" not in flat:
        raise ConfigError(f"{what}: exponentialBackoff retry needs minimumInterval and maximumInterval.")
    low, high = _seconds(flat["minimuminterval"], what), _seconds(flat["maximuminterval"], what)
    if low > high:
        raise ConfigError(f"{what}: retry minimumInterval must not exceed maximumInterval.")
    return RetrySpec("exponential_backoff", count, minimum_interval=low, maximum_interval=high)


def _streaming_request_check() -> Any:
    """The FastAPI extension's request-type check, when the app imported the extension (HTTP streaming)."""
    base = sys.modules.get("azurefunctions.extensions.base")
    if base is None:
        return None
    tracker = getattr(base, "RequestTrackerMeta", None)
    if tracker is None or tracker.get_request_type() is None:
        return None
    return tracker.check_type


def _function_directory(func: Any, fallback: Path) -> str:
    try:
        return str(Path(inspect.getfile(func)).resolve().parent)
    except (TypeError, OSError):
        return str(fallback)


def _build_spec(
    name: str, func: Any, raw_bindings: list[Mapping[str, Any]], directory: str, script_file: str, streaming: Any
) -> FunctionSpec:
    bindings = tuple(_binding(b) for b in raw_bindings)
    spec = FunctionSpec(
        name=name,
        func=func,
        bindings=bindings,
        directory=directory,
        script_file=script_file,
        is_async=inspect.iscoroutinefunction(func),
    )
    spec.errors.extend(host_errors(name, bindings))
    return spec


def _index_v2(app: Any, script_root: Path, script_file: str) -> AppIndex:
    streaming = _streaming_request_check()
    try:
        functions = app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"Worker failed to index functions: {type(exc).__name__}: {exc}") from None
    index = AppIndex(model="v2", app_object=app, streaming_request_type=streaming)
    for function in functions:
        name = function.get_function_name()
        user_func = function.get_user_function()
        raw = [json.loads(b) for b in function.get_raw_bindings()]
        spec = _build_spec(
            name, user_func, raw, _function_directory(user_func, script_root), script_file, streaming
        )
        spec.http_type = getattr(function, "http_type", "function") or "function"
        try:
            spec.retry = parse_retry(function.get_settings_dict("retry_policy"), what=f"function '{name}'")
        except ConfigError as exc:
            spec.errors.append(str(exc))
        try:
            spec.params, spec.needs_context, spec.return_converter, spec.return_pytype = worker_check(
                name, user_func, spec.bindings, streaming
            )
        except FunctionLoadError as exc:
            # [QUIRK] in the v2 model one function failing the worker's checks fails the whole app.
            raise AppLoadError(
                f"Worker failed to index functions: cannot load the {name} function: {exc.message}"
            ) from None
        index.functions.append(spec)
    mixed = [p.name for p in script_root.iterdir() if (p / "function.json").is_file()]
    if mixed:
        log.warning("Detected mixed function app. Some functions may not be indexed - %s", ", ".join(sorted(mixed)))
    return index


def _index_v1(script_root: Path) -> AppIndex:
    index = AppIndex(model="v1")
    for entry in loader.load_v1_functions(script_root):
        raw = entry.config.get("bindings") or []
        func = entry.func if entry.func is not None else (lambda: None)
        spec = _build_spec(
            entry.name, func, [b for b in raw if isinstance(b, dict)], str(entry.directory), "__init__.py", None
        )
        spec.disabled = bool(entry.config.get("disabled", False))
        if entry.load_error:
            # An unreadable function.json has no bindings: the one error is the file's, not "no trigger".
            spec.errors[:] = [entry.load_error] if not entry.config else [*spec.errors, entry.load_error]
        else:
            try:
                spec.retry = parse_retry(entry.config.get("retry"), what=f"function '{entry.name}'")
                if not spec.errors:  # the host sends a function that failed its own checks to no worker
                    spec.params, spec.needs_context, spec.return_converter, spec.return_pytype = worker_check(
                        entry.name, entry.func, spec.bindings
                    )
            except (FunctionLoadError, ConfigError) as exc:
                # In v1 a load failure stays with that one function.
                spec.errors.append(str(exc))
        index.functions.append(spec)
    if not index.functions:
        index.model = "empty"
    return index


# Binding properties where the host resolves %AppSetting% references once, at indexing (§7).
SETTING_PROPERTIES = ("queueName", "schedule", "path", "tableName", "partitionKey", "rowKey", "filter", "take",
                      "topicName", "subscriptionName", "eventHubName", "consumerGroup")


def _resolve_app_settings(spec: FunctionSpec, environ: Mapping[str, str]) -> None:
    from overcast.config.app_settings import resolve_app_settings

    resolved: list[BindingSpec] = []
    for binding in spec.bindings:
        raw = dict(binding.raw)
        for key, value in binding.raw.items():
            if isinstance(value, str) and "%" in value and key.lower() in {p.lower() for p in SETTING_PROPERTIES}:
                try:
                    raw[key] = resolve_app_settings(
                        value, environ, what=f"function '{spec.name}', binding '{binding.name}' {key}"
                    )
                except ConfigError as exc:
                    spec.errors.append(str(exc))
        resolved.append(BindingSpec(binding.name, binding.type, binding.direction, binding.data_type, raw))
    spec.bindings = tuple(resolved)
    spec.params = tuple(
        replace(p, binding=next(b for b in spec.bindings if b.name == p.name)) for p in spec.params
    )


def index_app(script_root: Path, script_file: str, allow_list: tuple[str, ...] | None,
              environ: Mapping[str, str] = os.environ) -> AppIndex:
    """Import and index the app under ``script_root``; raises AppLoadError when the app cannot load at all."""
    if (script_root / script_file).is_file():
        index = _index_v2(loader.import_v2_app(script_root, script_file), script_root, script_file)
    else:
        index = _index_v1(script_root)
    if allow_list:
        allowed = {n.lower() for n in allow_list}
        log.info(
            "A function allow list has been specified, excluding all but the following functions: [%s]",
            ", ".join(allow_list),
        )
        index.excluded_functions = [f for f in index.functions if f.name.lower() not in allowed]
        index.excluded = [f.name for f in index.excluded_functions]
        index.functions = [f for f in index.functions if f.name.lower() in allowed]
    for spec in [*index.functions, *index.excluded_functions]:
        if parse_bool(environ.get(f"AzureWebJobs.{spec.name}.Disabled")):
            spec.disabled = True
        _resolve_app_settings(spec, environ)
    index.functions.sort(key=lambda f: f.name.lower())
    return index
