"""The console log pipeline: Core Tools' line format and category filtering, or JSON lines.

Every record gets a category the way the Functions host names them: ``Host.Startup``, ``Function.<fn>``
(Executing/Executed lines), ``Function.<fn>.User`` (user logs inside an invocation, also from the threads and
tasks it starts), ``Host.Function.Console`` (user logs outside any invocation). Levels come from host.json
``logging.logLevel`` (longest category prefix wins, then ``default``), else user logs use the user log level
and system logs Warning (Information with --verbose).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from typing import IO, Any

from overcast.observe.redact import mask
from overcast.observe.scope import current, thread_local_storage

LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}
_LEVEL_NAMES = {5: "Trace", 10: "Debug", 20: "Information", 30: "Warning", 40: "Error", 50: "Critical"}
_SYSTEM_PREFIXES = ("overcast", "uvicorn", "azure.functions", "azure_functions_worker", "watchfiles", "asyncio")


def _level(name: str) -> int:
    return LEVELS.get(name.strip().lower(), logging.INFO)


def category_of(record: logging.LogRecord) -> tuple[str, bool]:
    """(category, is_user) for a record."""
    explicit = getattr(record, "category", None)
    if explicit is not None:
        return str(explicit), str(explicit).startswith("Function.")
    name = record.name
    if name.startswith(_SYSTEM_PREFIXES):
        if name.startswith("overcast."):
            parts = name.split(".")[1:]
            return ".".join(p[:1].upper() + p[1:] for p in parts), False
        return "Host.Server" if name.startswith("uvicorn") else f"Host.{name}", False
    scope = current.get()
    if scope is not None:
        return f"Function.{scope.function_name}.User", True
    if getattr(thread_local_storage, "invocation_id", None):
        return "Function.User", True
    return "Host.Function.Console", True


class CategoryFilter:
    """Decides per category whether a level is shown; results are cached (categories are few)."""

    def __init__(self, rules: Mapping[str, str], user_level: str, verbose: bool) -> None:
        self._rules = sorted(((k.lower(), _level(v)) for k, v in rules.items() if k.lower() != "default"),
                             key=lambda kv: -len(kv[0]))
        self._default = next((_level(v) for k, v in rules.items() if k.lower() == "default"), None)
        self._user = _level(user_level)
        self._system = logging.INFO if verbose else logging.WARNING
        self._cache: dict[tuple[str, bool], int] = {}

    def threshold(self, category: str, is_user: bool) -> int:
        key = (category, is_user)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        lowered = category.lower()
        value = next((lvl for prefix, lvl in self._rules if lowered.startswith(prefix)), None)
        if value is None:
            value = self._default if self._default is not None else (self._user if is_user else self._system)
        self._cache[key] = value
        return value

    def lowest(self) -> int:
        return min([self._user, self._system, *(lvl for _, lvl in self._rules),
                    self._default if self._default is not None else logging.CRITICAL])


class ConsoleHandler(logging.Handler):
    """Writes filtered records to a stream, batching lines under load.

    A line written when the console has been quiet for a while goes out at once (so interactive output keeps
    its order with print()); lines that follow within ``BATCH_WINDOW`` are collected and written together by
    a background thread. That matters: with PYTHONUNBUFFERED=1 (common in containers) every stream write is a
    system call, and two per request would cost a third of the HTTP throughput.
    """

    BATCH_WINDOW = 0.02

    def __init__(self, stream: IO[str], rules: CategoryFilter, json_lines: bool) -> None:
        super().__init__(level=1)
        self.stream = stream
        self.rules = rules
        self.json_lines = json_lines
        self._second = -1
        self._prefix = ""
        self._pending: list[str] = []
        self._last_write = 0.0
        self._write_lock = threading.Lock()
        threading.Thread(target=self._flusher, name="overcast-log-flush", daemon=True).start()

    def _flusher(self) -> None:
        while True:
            time.sleep(self.BATCH_WINDOW)
            if self._pending:
                self.flush()

    def flush(self) -> None:
        with self._write_lock:
            pending, self._pending = self._pending, []
            try:
                if pending:
                    self.stream.write("".join(pending))
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed console (terminal gone, `| head`) must not break invocations

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format_line(
        self, created: float, levelno: int, category: str, message: str, exc_text: str | None,
        invocation_id: str | None = None,
    ) -> str:
        # Every console line passes here: the one place that keeps secrets (connection strings, keys) out of logs.
        message = mask(message)
        exc_text = mask(exc_text) if exc_text else exc_text
        if not self.json_lines:
            text = f"{message}\n{exc_text}" if exc_text else message
            return f"[{self._timestamp(created)}] {text}\n"
        scope = current.get()
        payload: dict[str, Any] = {
            "timestamp": self._timestamp(created),
            "level": _LEVEL_NAMES.get(levelno, logging.getLevelName(levelno)),
            "category": category,
            "message": message,
        }
        invocation_id = invocation_id or (
            scope.invocation_id if scope else getattr(thread_local_storage, "invocation_id", None)
        )
        if invocation_id:
            payload["invocationId"] = invocation_id
        if scope is not None:
            payload["functionName"] = scope.function_name
        if exc_text:
            payload["exception"] = exc_text
        return json.dumps(payload) + "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            category, is_user = category_of(record)
            if record.levelno < self.rules.threshold(category, is_user):
                return
            exc_text = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
            self.write(self.format_line(record.created, record.levelno, category, record.getMessage(), exc_text,
                                        getattr(record, "invocation_id", None)), record.levelno)
        except Exception:
            self.handleError(record)

    def write(self, line: str, levelno: int) -> None:
        now = time.monotonic()
        quiet = now - self._last_write > self.BATCH_WINDOW
        self._last_write = now
        with self._write_lock:
            self._pending.append(line)
        if quiet or levelno >= logging.WARNING:
            self.flush()


_handler: ConsoleHandler | None = None
_host_logger = logging.getLogger("overcast.function")


def host_line(category: str, level: int, message: str, exc_info: BaseException | None = None) -> None:
    """Write a host log line (Executing/Executed, ...) straight to the console handler.

    These lines belong to the host, not to the user's Python logging (in Azure they never pass through the
    worker's root logger), and they are on the hot path of every invocation: skipping LogRecord creation and
    caller lookup keeps per-request overhead small. Without a console handler they go through ``logging``.
    """
    handler = _handler
    if handler is None:
        _host_logger.log(level, message, extra={"category": category}, exc_info=exc_info)
        return
    if level < handler.rules.threshold(category, category.startswith("Function.")):
        return
    exc_text = None
    if exc_info is not None:
        exc_text = "".join(traceback.format_exception(type(exc_info), exc_info, exc_info.__traceback__)).rstrip()
    handler.write(handler.format_line(time.time(), level, category, message, exc_text), level)


def configure(*, rules: Mapping[str, str], user_level: str, verbose: bool, json_lines: bool,
              debug_logging: bool = False) -> ConsoleHandler:
    """Install the console handler on the root logger (idempotent: replaces an earlier one)."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    category_filter = CategoryFilter(rules, user_level, verbose)
    _handler = ConsoleHandler(sys.stdout, category_filter, json_lines)
    root.addHandler(_handler)
    # The worker's root logger is INFO, or DEBUG with PYTHON_ENABLE_DEBUG_LOGGING; go lower only if asked.
    floor = logging.DEBUG if debug_logging else logging.INFO
    root.setLevel(max(min(floor, category_filter.lowest()), 1) if debug_logging else floor)
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return _handler


def flush() -> None:
    if _handler is not None:
        _handler.flush()
