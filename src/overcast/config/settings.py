"""The resolved configuration of one ``overcast start``: CLI > environment > local.settings.json > host.json."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from overcast.config.host_json import HostJson, load_host_json
from overcast.config.knobs import (
    DEFAULT_DURABLE_PAYLOAD_LIMIT,
    DEFAULT_HEADERS_TIMEOUT,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    Knobs,
    load_knobs,
    positive_int,
)
from overcast.config.local_settings import LocalSettings, apply_to_environment, load_local_settings
from overcast.config.truthy import parse_bool
from overcast.errors import ConfigError

DEFAULT_PORT = 7071
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_BODY_LIMIT = 104_857_600
# The OVERCAST_* knobs' defaults live with them (overcast.config.knobs); named here too for their importers.
__all__ = [
    "DEFAULT_DURABLE_PAYLOAD_LIMIT", "DEFAULT_HEADERS_TIMEOUT", "DEFAULT_KEEPALIVE_TIMEOUT", "DEFAULT_MAX_CONNECTIONS",
    "Settings", "StartOptions", "load",
]
LOG_LEVELS = ("Trace", "Debug", "Information", "Warning", "Error", "Critical", "None")
_SCRIPT_FILE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py")


@dataclass(frozen=True)
class StartOptions:
    """What the user asked for on the command line (None = not given)."""

    script_root: Path = field(default_factory=Path.cwd)
    port: int | None = None
    address: str | None = None
    cors: str | None = None
    cors_credentials: bool = False
    functions: tuple[str, ...] | None = None
    verbose: bool = False
    user_log_level: str | None = None
    workers: int | None = None
    reload: bool = False
    data_dir: Path | None = None
    no_auth: bool = False
    json_logs: bool = False


@dataclass(frozen=True)
class Settings:
    """Everything a Host needs to know; built once by :func:`load` and shared by all instances."""

    script_root: Path
    data_dir: Path
    port: int
    address: str
    cors_origins: tuple[str, ...]
    cors_credentials: bool
    function_allow_list: tuple[str, ...] | None
    verbose: bool
    user_log_level: str
    workers: int
    reload: bool
    auth_enabled: bool
    json_logs: bool
    host_json: HostJson
    local_settings: LocalSettings
    script_file: str
    thread_count: int | None
    body_limit: int
    worker_extensions: bool
    knobs: Knobs = field(default_factory=Knobs)  # the OVERCAST_* environment knobs
    warnings: tuple[str, ...] = ()

    @property
    def is_loopback(self) -> bool:
        return self.address in ("127.0.0.1", "localhost", "::1") or self.address.startswith("127.")


def normalise_level(text: str, *, what: str) -> str:
    for level in LOG_LEVELS:
        if text.strip().lower() == level.lower():
            return level
    if text.strip().lower() in ("info", "warn"):
        return "Information" if text.strip().lower() == "info" else "Warning"
    raise ConfigError(f"{what}: {text!r} is not a log level; use one of {', '.join(LOG_LEVELS)}.")


def _thread_count(environ: MutableMapping[str, str]) -> int | None:
    try:
        return positive_int(environ, "PYTHON_THREADPOOL_THREAD_COUNT")
    except ConfigError as exc:
        # The worker only warns and falls back to Python's default; so do we.
        logging.getLogger("overcast.host.startup").warning("%s Using the default thread pool size.", exc)
        return None


def _cors(options: StartOptions, local: LocalSettings, environ: MutableMapping[str, str]) -> tuple[str, ...]:
    raw = options.cors or local.cors or ""
    if not raw and environ.get("CORS_ALLOWED_ORIGINS"):
        import json

        try:
            parsed = json.loads(environ["CORS_ALLOWED_ORIGINS"])
        except ValueError:
            raise ConfigError("CORS_ALLOWED_ORIGINS must be a JSON array of origins.") from None
        return tuple(str(o) for o in parsed)
    return tuple(o.strip() for o in raw.split(",") if o.strip())


def load(options: StartOptions, environ: MutableMapping[str, str] | None = None) -> Settings:
    """Resolve the configuration; applies local.settings.json Values to ``environ`` (os.environ by default).

    Warnings (a setting skipped, a value ignored) are collected into ``Settings.warnings`` instead of being
    logged: the CLI resolves the settings once and then every instance again, and each warning must show once.
    """
    collected: list[str] = []
    logger = logging.getLogger("overcast.host.startup")
    handler = _Collector(collected)
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        return _load(options, environ, collected)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class _Collector(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        self._into.append(record.getMessage())


def _load(options: StartOptions, environ: MutableMapping[str, str] | None, warnings: list[str]) -> Settings:
    env = os.environ if environ is None else environ
    root = options.script_root.resolve()
    if not root.is_dir():
        raise ConfigError(f"Script root '{root}' is not a directory. Pass --script-root with your app's folder.")
    if not (root / "host.json").is_file():
        # Core Tools' words; it refuses too, so nothing (no .overcast/) is created in a folder that is not an app.
        raise ConfigError(
            f"Unable to find project root. Expecting to find one of host.json in project root ('{root}'). "
            'Run overcast start in your app\'s folder, pass --script-root <app folder>, or create a host.json '
            'there containing {"version": "2.0"}.'
        )
    local = load_local_settings(root)
    apply_to_environment(local, env)
    if options.functions:
        for i, name in enumerate(options.functions):
            env[f"AzureFunctionsJobHost__functions__{i}"] = name
    host_json = load_host_json(root, env)
    script_file = env.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")
    if not _SCRIPT_FILE.fullmatch(script_file):
        raise ConfigError(f"Invalid file name: {script_file} (PYTHON_SCRIPT_FILE_NAME).")
    # --port 0 asks for a free port (the help says so); Host.LocalHttpPort 0 counts as not given, as in Core Tools.
    port = options.port if options.port is not None else (local.local_http_port or DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise ConfigError(f"Port {port} is out of range (0-65535).")
    user_level_text = options.user_log_level or env.get("FUNCTIONS_USER_LOG_LEVEL") or "Information"
    workers = options.workers or positive_int(env, "FUNCTIONS_WORKER_PROCESS_COUNT")
    body_limit = positive_int(env, "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT")
    cors_origins = _cors(options, local, env)
    cors_credentials = options.cors_credentials or bool(local.cors_credentials) or parse_bool(
        env.get("CORS_SUPPORT_CREDENTIALS")
    )
    if cors_credentials and "*" in cors_origins:
        raise ConfigError(
            "CORS: '*' cannot be combined with --cors-credentials (browsers reject it); list the origins instead."
        )
    data_dir = (options.data_dir or (Path(env["OVERCAST_DATA_DIR"]) if env.get("OVERCAST_DATA_DIR") else None)
                or root / ".overcast").resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"The data folder '{data_dir}' is a file. Pass --data-dir (or OVERCAST_DATA_DIR) with a folder."
        )
    if options.workers is not None and options.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {options.workers}.")
    knobs = load_knobs(env)
    allow = options.functions or host_json.functions
    return Settings(
        script_root=root,
        data_dir=data_dir,
        port=port,
        address=options.address or local.local_http_address or DEFAULT_ADDRESS,
        cors_origins=cors_origins,
        cors_credentials=cors_credentials,
        function_allow_list=tuple(allow) if allow else None,
        verbose=options.verbose,
        user_log_level=normalise_level(user_level_text, what="--user-log-level"),
        workers=workers or 1,
        reload=options.reload,
        auth_enabled=not options.no_auth,
        json_logs=options.json_logs,
        host_json=host_json,
        local_settings=local,
        script_file=script_file,
        thread_count=_thread_count(env),
        body_limit=body_limit or DEFAULT_BODY_LIMIT,
        worker_extensions=parse_bool(env.get("PYTHON_ENABLE_WORKER_EXTENSIONS"), default=False),
        knobs=knobs,
        warnings=tuple(warnings),
    )
