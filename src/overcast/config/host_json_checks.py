"""Checks on the host.json tree (after ``AzureFunctionsJobHost__`` overrides) that the host makes at start.

The host binds host.json sections to typed options and fails to start when a value does not bind; a value that
would only fail later (a header name on every response, a section read by one listener) must fail here, once,
with the key's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from overcast.errors import ConfigError

LOG_LEVELS = ("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None")
# Sections the host binds to option objects: a string or a list there is a mistake, not something to ignore.
_OBJECT_SECTIONS = (
    ("extensions",), ("logging",), ("logging", "loglevel"), ("logging", "applicationinsights"), ("retry",),
    ("healthmonitor",), ("singleton",), ("aggregator",), ("concurrency",), ("extensionbundle",),
    ("manageddependency",), ("languageworkers",),
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field-name
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # no CR/LF/NUL (header injection); tab is allowed


def check_shapes(tree: Mapping[str, Any]) -> None:
    for path in _OBJECT_SECTIONS:
        node: Any = tree
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None and not isinstance(node, Mapping):
            raise ConfigError(f"host.json: {'.'.join(path)} must be an object, got {node!r}.")
    extensions = tree.get("extensions") or {}
    for name, section in extensions.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"host.json: extensions.{name} must be an object, got {section!r}.")
    functions = tree.get("functions")
    if isinstance(functions, list) and not all(isinstance(f, str) and f for f in functions):
        raise ConfigError(f"host.json: functions must be a list of function names, got {functions!r}.")
    if functions is not None and not isinstance(functions, (list, dict, str)):
        raise ConfigError(f"host.json: functions must be a list of function names, got {functions!r}.")
    timeout = tree.get("functiontimeout")
    if timeout is not None and not isinstance(timeout, (str, int)):
        raise ConfigError(f"host.json: functionTimeout must be a time span such as \"00:05:00\", got {timeout!r}.")


def check_log_levels(levels: Mapping[str, Any]) -> None:
    for category, level in levels.items():
        if not isinstance(level, str) or level.strip().lower() not in {n.lower() for n in LOG_LEVELS}:
            raise ConfigError(
                f"host.json: logging.logLevel.{category} is {level!r}, not a log level; use one of "
                f"{', '.join(LOG_LEVELS)}."
            )


def check_route_prefix(prefix: str) -> None:
    bad = next((c for c in prefix if c in "?#{}\\" or c.isspace() or ord(c) < 32), None)
    if bad is not None or prefix.strip("/").startswith("~") or "//" in prefix.strip("/"):
        raise ConfigError(
            f"host.json: extensions.http.routePrefix {prefix!r} is not a valid route prefix: use path segments "
            "such as \"api\" or \"v1/api\" (or \"\" for none), without ?, #, {, }, \\, spaces or empty segments."
        )


def custom_headers(headers: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``extensions.http.customHeaders`` as (name, value) pairs; an invalid one would break every response."""
    pairs = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(str(name)):
            raise ConfigError(
                f"host.json: extensions.http.customHeaders has an invalid header name {str(name)!r}: use letters, "
                "digits and !#$%&'*+-.^_`|~ only."
            )
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"host.json: extensions.http.customHeaders.{name} must be a string, got {value!r}.")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if _BAD_VALUE.search(text) or not _latin1(text):
            raise ConfigError(
                f"host.json: extensions.http.customHeaders.{name} has a control character (line break?) or a "
                "character outside Latin-1 in its value; header values must be one line of Latin-1 text."
            )
        pairs.append((str(name), text))
    return tuple(pairs)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
