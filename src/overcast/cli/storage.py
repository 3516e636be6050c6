"""``overcast storage``: serve only the Storage endpoints (Blob, Queue, Table) of an app's embedded store.

For tools and test suites that want the endpoints without running the functions (as one would run Azurite);
``overcast start`` serves the same endpoints beside the functions. ``--connection postgresql://...`` serves a
PostgreSQL store's blobs, queues and tables instead (what the instances of a scaled-out app share).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any
from urllib.parse import urlsplit

from overcast.cli.common import app_environment, data_dir_for, location_options, script_root_for
from overcast.config.connections import EMBEDDED, connection_kind
from overcast.errors import ConfigError


def add_storage_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    storage = subparsers.add_parser(
        "storage", help="serve only the Blob/Queue/Table endpoints of the embedded store",
        description="Serve the Azure Storage REST APIs of the app's embedded store (account devstoreaccount1, "
                    "its well-known key, path-style URLs as Azurite) until Ctrl+C.")
    location_options(storage)
    storage.add_argument("--address", default=None, help="listen address (default: OVERCAST_STORAGE_ADDRESS or "
                                                         "127.0.0.1)")
    storage.add_argument("--blob-port", type=int, default=None, help="default: OVERCAST_BLOB_PORT or 10000")
    storage.add_argument("--queue-port", type=int, default=None, help="default: OVERCAST_QUEUE_PORT or 10001")
    storage.add_argument("--table-port", type=int, default=None, help="default: OVERCAST_TABLE_PORT or 10002")
    storage.add_argument("--connection", default=None, metavar="URL",
                         help="serve this store instead of the embedded one (a postgresql:// URL)")


def storage_environment(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """The settings with the command's options applied over them."""
    env = dict(environ)
    env["OVERCAST_STORAGE_ENDPOINTS"] = "on"
    if args.address:
        env["OVERCAST_STORAGE_ADDRESS"] = args.address
    for name in ("blob", "queue", "table"):
        port = getattr(args, f"{name}_port", None)
        if port is not None:
            env[f"OVERCAST_{name.upper()}_PORT"] = str(port)
    return env


def run_storage(args: argparse.Namespace) -> int:
    from overcast.storage_api.endpoints import bind_endpoints, connection_string, endpoint_settings, endpoint_urls

    try:
        script_root = script_root_for(args)
        environ = storage_environment(args, app_environment(script_root))
        settings = endpoint_settings(environ)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 3
    connection = (args.connection or "").strip()
    kind = connection_kind(connection) if connection else EMBEDDED
    if kind not in (EMBEDDED, "postgresql"):
        print(f"Error: --connection takes a postgresql:// URL (or nothing, for the embedded store), not "
              f"'{connection.partition('://')[0]}://...'.", file=sys.stderr)
        return 3
    sockets = bind_endpoints(settings)
    if not sockets:
        print("Error: no Storage endpoint could be served (every port is taken).", file=sys.stderr)
        return 1
    data_dir = data_dir_for(args, script_root, environ)
    urls = endpoint_urls(sockets, settings.address)
    for name, url in urls.items():
        print(f"{name.capitalize()} endpoint: {url}")
    if kind == EMBEDDED:
        print(f"Data folder: {data_dir}")
    else:
        where = urlsplit(connection)
        print(f"Store: {kind} at {where.hostname or 'localhost'}{where.path}")  # never the password
    print(f"Connection string: {connection_string(urls)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sockets, data_dir, kind, connection))
    return 0


async def _serve(sockets: dict[str, Any], data_dir: Any, kind: str, connection: str) -> None:
    import uvicorn

    from overcast.backends.pool import BackendPool
    from overcast.storage_api.hosting import PortRouter, StoreThreads, storage_apps

    pool = BackendPool(data_dir)
    io = StoreThreads()
    try:
        app = PortRouter(storage_apps(sockets, pool.stores(kind, connection), io))
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False,
                                date_header=True, loop="none")
        await uvicorn.Server(config).serve(sockets=list(sockets.values()))
    finally:
        io.shutdown()
        pool.close()



