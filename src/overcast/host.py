"""The composition root: builds one instance (config → app index → dispatcher → web) and serves it.

This is the only module that knows every part. ``instance_main`` runs inside each supervised process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overcast.app.index import AppIndex, index_app
from overcast.app.spec import FunctionSpec
from overcast.backends.pool import BackendPool
from overcast.config.settings import Settings, StartOptions, load
from overcast.errors import AppLoadError, ConfigError, StoreError
from overcast.observe import logs, redact
from overcast.observe.scope import propagate_into_threads

if TYPE_CHECKING:
    from overcast.invoke.dispatcher import Dispatcher
    from overcast.triggers.manager import TriggerManager
    from overcast.triggers.warmup import Warmup
    from overcast.web.app import HostApp, HostState
    from overcast.web.keys import KeyRing
    from overcast.web.native import NativeAsgi
    from overcast.web.routing import FunctionRoute

log = logging.getLogger("overcast.host.startup")
EXIT_FATAL = 3
GRACEFUL_SECONDS = 30


def host_id(settings: Settings) -> str:
    return host_id_for(settings.script_root)


def host_id_for(script_root: Path) -> str:
    """As the host computes it: the explicit id, else the site name, else ``<machine>-<hash of the script root>``."""
    explicit = os.environ.get("AzureFunctionsWebHost__hostid") or os.environ.get("AzureFunctionsWebHost__hostId")
    if explicit or os.environ.get("WEBSITE_SITE_NAME"):  # Azure derives it from the site name
        return (explicit or os.environ["WEBSITE_SITE_NAME"]).lower()[:32].rstrip("-")
    digest = int(hashlib.sha256(str(script_root).encode()).hexdigest()[:8], 16)
    return f"{socket.gethostname()}-{digest}".lower()[:32].rstrip("-")


def preflight(settings: Settings) -> None:
    """The host.json sections that only some listeners read, checked once before any instance starts.

    Checked later in each instance, a bad value would stop every instance, each printing the same error.
    Raises ConfigError.
    """
    from overcast.app.index import parse_retry
    from overcast.triggers.blob import blob_queue_options
    from overcast.triggers.queue_options import queue_options

    queues = queue_options(settings.host_json.section("extensions", "queues"), lease=settings.knobs.queue_lease_seconds)
    blob_queue_options(queues, settings.host_json.section("extensions", "blobs"), os.cpu_count() or 1)
    parse_retry(settings.host_json.section("retry"), what="host.json retry")


def _mark_unsupported(index: AppIndex) -> None:
    """Each binding checked by its kind before any store opens (:mod:`overcast.binding_checks`)."""
    from overcast.backends.registry import available_kinds
    from overcast.binding_checks import check_bindings

    for line in check_bindings(index, os.environ, available_kinds()):
        log.warning("%s", line)


def _report_errors(index: AppIndex) -> None:
    for spec in index.functions:
        # The errors are shown on the console and by the admin API: never with a connection string's secret.
        spec.errors[:] = [redact.mask(e) for e in spec.errors]
        for error in spec.errors:
            log.error("The '%s' function is in error: %s", spec.name, error)


@dataclass
class Instance:
    """Everything one instance serves; built by :func:`build` (also used by in-process tests)."""

    settings: Settings
    index: AppIndex
    app: HostApp
    routes: list[FunctionRoute]
    keys: KeyRing
    dispatcher: Dispatcher
    native: NativeAsgi | None
    state: HostState
    stores: BackendPool
    triggers: TriggerManager | None = None
    warmup: Warmup | None = None
    app_store: tuple[str, str] = ("embedded", "")  # (kind, address) of the app's store: what the endpoints serve

    def close(self) -> None:
        self.dispatcher.shutdown()
        self.stores.close()


def build(settings: Settings, on_stuck: Any = None, port: int | None = None, rpc_secret: str | None = None) -> Instance:
    """Index the app and assemble the web application; raises AppLoadError/ConfigError/StoreError.

    ``rpc_secret``: the durable client's channel secret, shared by the instances of one ``overcast start``.
    """
    from overcast.app_storage import app_store
    from overcast.backends.registry import available_kinds
    from overcast.invoke import extensions
    from overcast.invoke.dispatcher import Dispatcher
    from overcast.kinds import needs_of
    from overcast.triggers.manager import BlobWrites, TriggerManager, open_storage
    from overcast.triggers.warmup import Warmup, find_warmup
    from overcast.web.admin import AdminApi
    from overcast.web.admin_keys import KeyApi
    from overcast.web.app import HostApp, HostState
    from overcast.web.keys import KeyRing
    from overcast.web.native import NativeAsgi, inner_asgi_app
    from overcast.web.routing import build_routes, make_router
    from overcast.web.streaming import StreamingHttp

    index = index_app(settings.script_root, settings.script_file, settings.function_allow_list)
    _mark_unsupported(index)
    app_kind, app_address = app_store(index, os.environ, available_kinds())
    routes = build_routes(index, settings.host_json.http.route_prefix)
    _report_errors(index)
    loaded = [f for f in index.functions if not f.in_error]
    if settings.worker_extensions:
        for spec in loaded:
            extensions.post_function_load(spec.name, spec.directory)
    pool = BackendPool(settings.data_dir, scope=host_id(settings))
    # The host's own state (keys, timer status) lives with the app's data (overcast.app_storage).
    store = pool.stores(app_kind, app_address).state
    keys = KeyRing(store)
    keys.ensure(f.name for f in index.functions)
    redact.register(
        keys.master_key(), *keys.host_keys("functionKeys").values(), *keys.host_keys("systemKeys").values(),
        *(v for f in index.functions for v in keys.function_keys(f.name).values()),
    )
    needs = needs_of(b for f in index.functions if not f.in_error and not f.disabled for b in f.bindings)
    # Every loaded function's connection is the app's store: app_store puts a function naming another in error.
    storage = open_storage(needs, pool.stores(app_kind, app_address)) if needs else None
    durable = None
    if "durable" in needs:
        from overcast.durable.hosting import DurableHosting

        durable = DurableHosting(settings, keys, port or settings.port, rpc_secret)
    blob_writes = BlobWrites()
    binding_io = None
    if storage is not None and "binding_io" in needs:
        from overcast.bindings.io import BindingIO
        from overcast.triggers.queue_options import queue_options

        encoding = queue_options(settings.host_json.section("extensions", "queues"),
                                 lease=settings.knobs.queue_lease_seconds).message_encoding
        connection = storage.connection
        # The blob trigger's receipts go through a queue: its functions' outputs need the queue store too.
        binding_io = BindingIO(
            connection.queues if "queues" in needs else None, storage.wakeups,
            encoding, storage.io, blobs=connection.blobs if "blobs" in needs else None,
            tables=connection.tables if "tables" in needs else None, on_blob_written=blob_writes,
            durable_client=durable.client_value if durable is not None else None, connection=connection,
        )
    dispatcher = Dispatcher(
        thread_count=settings.thread_count,
        function_timeout=settings.host_json.function_timeout,
        worker_extensions=settings.worker_extensions,
        on_stuck=on_stuck,
        binding_io=binding_io,
    )
    triggers = None
    durable_api = None
    if storage is not None:
        triggers = TriggerManager(settings, index, dispatcher, storage.stores, storage.wakeups, storage.io,
                                  host_id(settings))
        blob_writes.listen(triggers.blob_written)
        if durable is not None:
            engine = durable.engine(index, dispatcher.invoke, storage.io, storage.connection, pool)
            triggers.add(engine)
            durable_api = durable.http_api(engine, index)
    state = HostState(storage_ready=pool.readiness())
    warmup = Warmup(find_warmup(index), dispatcher.invoke)
    admin = AdminApi(
        index=index, dispatcher=dispatcher, state=state, host_id=host_id(settings),
        keys=KeyApi(keys, [f.name for f in index.functions]), route_prefix=settings.host_json.http.route_prefix,
        warmup=warmup.run, webhooks=triggers.webhooks if triggers is not None else None,
    )
    native = None
    asgi_specs = [r.spec for r in routes if r.spec.http_type == "asgi"]
    if asgi_specs and inner_asgi_app(index.app_object) is not None:
        native = NativeAsgi(inner_asgi_app(index.app_object), settings.host_json.function_timeout, dispatcher.in_flight)
    streaming = StreamingHttp(dispatcher) if index.streaming_request_type is not None else None
    app = HostApp(
        settings=settings, router=make_router(routes), dispatcher=dispatcher, keys=keys, state=state,
        admin=admin, native=native, streaming=streaming, durable=durable_api,
    )
    return Instance(settings, index, app, routes, keys, dispatcher, native, state, pool, triggers, warmup,
                    (app_kind, app_address))


def _banner_key(instance: Instance) -> Any:
    settings = instance.settings
    if not settings.auth_enabled or not settings.is_loopback:
        return None  # never print keys when bound to a public address

    def key_for(route: Any) -> str | None:
        spec: FunctionSpec = route.spec
        if route.auth_level == "admin":
            return str(instance.keys.master_key())
        value = instance.keys.function_keys(spec.name).get("default")
        return str(value) if value is not None else None

    return key_for


def _print_fatal(message: str) -> None:
    logs.flush()
    sys.stderr.write(redact.mask(message).rstrip() + "\n")
    sys.stderr.flush()


def instance_main(handle: Any, options: StartOptions, rpc_secret: str | None = None, storage: Any = None) -> int:
    """Run one instance on the supervisor's socket until told to stop. Returns an exit code (3 = fatal).

    ``rpc_secret``: made once by ``overcast start`` before the instances fork, so every instance on the shared
    socket admits the durable client calls of every other one. ``storage``: the Storage endpoints' sockets.
    """
    try:
        settings = load(options)
    except ConfigError as exc:
        _print_fatal(f"Error: {exc}")
        return EXIT_FATAL
    logs.configure(
        rules=settings.host_json.log_levels, user_level=settings.user_log_level, verbose=settings.verbose,
        json_lines=settings.json_logs,
        debug_logging=os.environ.get("PYTHON_ENABLE_DEBUG_LOGGING", "").lower() in ("1", "true", "t", "yes", "y"),
    )
    propagate_into_threads()
    if handle.generation > 0 and handle.announce:
        for warning in settings.warnings:  # the first start's were printed by the CLI; a reload's are new
            log.warning("%s", warning)
    os.environ.setdefault("AzureWebJobsScriptRoot", str(settings.script_root))
    os.environ.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    port = handle.sock.getsockname()[1]
    os.environ.setdefault("WEBSITE_HOSTNAME", f"localhost:{port}")
    os.chdir(settings.script_root)
    recycled = threading.Event()

    def on_stuck(invocation: Any) -> None:
        if not recycled.is_set():
            recycled.set()
            log.error(
                "A function timeout has occurred. Restarting worker process executing invocationId '%s'.",
                invocation.invocation_id,
            )
            handle.notify("recycle")

    try:
        instance = build(settings, on_stuck=on_stuck, port=port, rpc_secret=rpc_secret)
    except (AppLoadError, ConfigError, StoreError) as exc:
        _print_fatal(str(exc))
        return EXIT_FATAL
    except Exception:
        # A bug of ours, not a passing failure: the same start would fail again, so exit 3 (the supervisor stops)
        # rather than 1 (it would restart this instance forever).
        import traceback

        _print_fatal(traceback.format_exc() + "Overcast failed to start the instance (a bug: please report it).")
        return EXIT_FATAL
    if handle.announce:
        from overcast import banner

        print(banner.render(settings, instance.index, instance.routes, port, _banner_key(instance)), flush=True)
    try:
        return _run_on_fast_loop(_serve(instance, handle, storage or {}))
    finally:
        logs.flush()
        instance.close()


def _run_on_fast_loop(coro: Any) -> int:
    """uvloop when installed (it is a default dependency on CPython/POSIX), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return int(asyncio.run(coro))
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return int(runner.run(coro))
    uvloop.install()
    return int(asyncio.run(coro))


async def _serve(instance: Instance, handle: Any, storage: dict[str, socket.socket]) -> int:
    import uvicorn

    from overcast.config.settings import DEFAULT_MAX_CONNECTIONS
    from overcast.storage_api.hosting import serve_in_instance
    from overcast.supervisor.draining import draining_message
    from overcast.web.connections import ConnectionLimits, guarded_protocol, plan_connection_cap

    settings = instance.settings
    try:
        cap = plan_connection_cap(settings.knobs.http_max_connections, DEFAULT_MAX_CONNECTIONS)
    except ConfigError as exc:
        _print_fatal(f"Error: {exc}")
        return EXIT_FATAL
    limits = ConnectionLimits(settings.knobs.http_keepalive_timeout, settings.knobs.http_headers_timeout, cap)
    # The Storage endpoints' sockets (bound by the CLI) join this server; their requests go to the storage apps.
    app_store = instance.stores.stores(*instance.app_store)
    app, extra_sockets, close_storage = serve_in_instance(instance.app, storage, app_store, instance.triggers)
    config = uvicorn.Config(
        app,
        lifespan="off",
        http=guarded_protocol("httptools" if _has("httptools") else "h11", limits),
        timeout_keep_alive=max(1, round(settings.knobs.http_keepalive_timeout)),
        loop="none",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        server_header=False,
        proxy_headers=False,  # the host builds URLs from the Host header; X-Forwarded-* is not trusted
        date_header=True,
        limit_concurrency=None,
        h11_max_incomplete_event_size=32 * 1024,
    )

    class InstanceServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            # As the platform warms a new instance before routing traffic to it: the warmup function runs before
            # this instance accepts a connection or starts a listener (other instances keep serving meanwhile).
            if instance.warmup is not None:
                await instance.warmup.run()
            await super().startup(sockets=sockets)
            if self.started:
                if instance.triggers is not None:
                    instance.triggers.start()
                instance.state.state = "Running"
                handle.notify("ready")

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            instance.state.state = "Stopping"
            # HTTP first, exactly as uvicorn drains it; then the listeners stop taking messages and settle theirs.
            await super().shutdown(sockets=sockets)
            if instance.triggers is not None:
                await instance.triggers.stop(GRACEFUL_SECONDS)

        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping = not self.should_exit
            super().handle_exit(sig, frame)
            running = instance.dispatcher.in_flight.snapshot() if stopping else None
            if running:
                # The supervisor tells the console what the stop waits for (it knows the signal and the deadline).
                # Said from here, so a stop during a long warmup function (before serving starts) is explained too.
                handle.notify(draining_message(running))
            # uvicorn re-raises the captured signal after draining, which would kill this process before the
            # ASGI lifespan shutdown and our cleanup run; the supervisor only needs a clean exit.
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    if instance.native is not None:
        try:
            await instance.native.startup()
        except Exception as exc:
            _print_fatal(f"The ASGI app failed to start: {exc}")
            return EXIT_FATAL
    server = InstanceServer(config)
    await server.serve(sockets=[handle.sock, *extra_sockets])
    close_storage()
    if instance.native is not None:
        await instance.native.shutdown()
    instance.state.state = "Stopped"
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
