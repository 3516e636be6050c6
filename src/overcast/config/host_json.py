"""host.json: loading, validation, ``AzureFunctionsJobHost__`` overrides and typed reads.

Keys are case-insensitive, as in the host's configuration system, so the file is normalised into a tree of
lower-cased keys. Environment overrides are merged into that tree before anything reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.config.host_json_checks import check_log_levels, check_route_prefix, check_shapes, custom_headers
from overcast.config.jsonc import load_file
from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError

ENV_PREFIX = "azurefunctionsjobhost__"
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0


# Sections whose keys are data (header names), not setting names: their case is kept.
_CASE_KEPT = frozenset({"customheaders"})


def _lower_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k).lower(): (v if str(k).lower() in _CASE_KEPT else _lower_tree(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_lower_tree(v) for v in value]
    return value


def _set_path(tree: dict[str, Any], path: list[str], value: str) -> None:
    node: Any = tree
    for key in path[:-1]:
        if isinstance(node, list):
            node = {str(i): v for i, v in enumerate(node)}
        child = node.get(key)
        if not isinstance(child, (dict, list)):
            child = {}
        if isinstance(child, list):
            child = {str(i): v for i, v in enumerate(child)}
        node[key] = child
        node = child
    node[path[-1]] = value


def _as_list(value: Any) -> list[Any] | None:
    """Arrays may come as JSON lists or, from env overrides, as dicts keyed "0", "1", ..."""
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    if isinstance(value, str):
        return [value]
    return None


@dataclass(frozen=True)
class HttpOptions:
    """The ``extensions.http`` section."""

    route_prefix: str = "api"
    max_concurrent_requests: int = -1
    max_outstanding_requests: int = -1
    custom_headers: tuple[tuple[str, str], ...] = ()
    hsts_header: str | None = None


@dataclass(frozen=True)
class HostJson:
    """The parts of host.json Overcast reads; ``tree`` keeps everything (lower-cased keys) for later readers."""

    path: Path
    exists: bool
    tree: Mapping[str, Any] = field(default_factory=dict)
    http: HttpOptions = field(default_factory=HttpOptions)
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT
    log_levels: Mapping[str, str] = field(default_factory=dict)
    functions: tuple[str, ...] | None = None

    def section(self, *keys: str) -> Mapping[str, Any]:
        """A nested section (keys case-insensitive); empty when absent."""
        node: Any = self.tree
        for key in keys:
            node = node.get(key.lower()) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) else {}


def _int(value: Any, what: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"host.json: extensions.http.{what} must be an integer, got {value!r}.") from None
    if number < -1:
        raise ConfigError(f"host.json: extensions.http.{what} must be -1 (unbounded) or more, got {number}.")
    return number


def _hsts(section: Mapping[str, Any]) -> str | None:
    if not section or str(section.get("isenabled", "false")).lower() != "true":
        return None
    max_age = section.get("maxage", "30.00:00:00")
    seconds = int(parse_timespan(str(max_age), what="host.json extensions.http.hsts.maxAge"))
    parts = [f"max-age={seconds}"]
    if str(section.get("includesubdomains", "false")).lower() == "true":
        parts.append("includeSubDomains")
    if str(section.get("preload", "false")).lower() == "true":
        parts.append("preload")
    return "; ".join(parts)


def _http_options(tree: Mapping[str, Any]) -> HttpOptions:
    http = tree.get("extensions", {}).get("http", {}) if isinstance(tree.get("extensions"), dict) else {}
    if not isinstance(http, dict):
        raise ConfigError("host.json: extensions.http must be an object.")
    prefix = http.get("routeprefix", "api")
    if not isinstance(prefix, str):
        raise ConfigError(f"host.json: extensions.http.routePrefix must be a string, got {prefix!r}.")
    check_route_prefix(prefix)
    headers = http.get("customheaders") or {}
    if not isinstance(headers, dict):
        raise ConfigError("host.json: extensions.http.customHeaders must be an object of header: value.")
    hsts = http.get("hsts") or {}
    if not isinstance(hsts, dict):
        raise ConfigError("host.json: extensions.http.hsts must be an object.")
    return HttpOptions(
        route_prefix=prefix.strip("/"),
        max_concurrent_requests=_int(http.get("maxconcurrentrequests", -1), "maxConcurrentRequests"),
        max_outstanding_requests=_int(http.get("maxoutstandingrequests", -1), "maxOutstandingRequests"),
        custom_headers=custom_headers(headers),
        hsts_header=_hsts(hsts),
    )


def _function_timeout(tree: Mapping[str, Any]) -> float | None:
    raw = tree.get("functiontimeout")
    if raw is None:
        return DEFAULT_FUNCTION_TIMEOUT
    seconds = parse_timespan(str(raw), what="host.json functionTimeout")
    if seconds < 0:
        return None  # "-1" means no timeout on SKUs that allow it (all self-hosted ones do)
    if seconds < 1:
        raise ConfigError(f"host.json: FunctionTimeout must be greater than 00:00:01, got {raw!r}.")
    return seconds


def load_host_json(script_root: Path, environ: Mapping[str, str]) -> HostJson:
    """Read ``<script_root>/host.json`` and apply ``AzureFunctionsJobHost__a__b`` environment overrides."""
    path = script_root / "host.json"
    exists = path.is_file()
    raw: Any = {}
    if exists:
        raw = load_file(path, what="Unable to parse host configuration file")
        if not isinstance(raw, dict):
            raise ConfigError(f"Unable to parse host configuration file '{path}': it must be a JSON object.")
        if raw:
            version = raw.get("version")
            if version is None:
                raise ConfigError(
                    f"The host.json file is missing the required 'version' property ({path}). "
                    'Add "version": "2.0".'
                )
            if version != "2.0":
                hint = " Version 3.0 does not exist; use \"2.0\"." if str(version).startswith("3") else ""
                raise ConfigError(
                    f"'{version}' is an invalid value for host.json 'version' property ({path}). "
                    f'This runtime requires "version": "2.0".{hint}'
                )
    tree: dict[str, Any] = _lower_tree(raw)
    overrides = []
    for name, value in environ.items():
        if name.lower().startswith(ENV_PREFIX):
            parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
            if parts:
                _set_path(tree, parts, value)
                overrides.append(name)
    try:
        return _typed(path, exists, tree)
    except ConfigError as exc:
        if not overrides:
            raise
        # The value may come from the environment rather than the file: say which variables were applied.
        raise ConfigError(f"{exc} (environment overrides applied: {', '.join(sorted(overrides)[:5])})") from None


def _typed(path: Path, exists: bool, tree: dict[str, Any]) -> HostJson:
    check_shapes(tree)
    levels = tree.get("logging", {}).get("loglevel", {})
    check_log_levels(levels)
    functions = _as_list(tree.get("functions"))
    return HostJson(
        path=path,
        exists=exists,
        tree=tree,
        http=_http_options(tree),
        function_timeout=_function_timeout(tree),
        log_levels={str(k): str(v) for k, v in levels.items()},
        functions=tuple(str(f) for f in functions) if functions else None,
    )
