"""The ``overcast`` command line. Imports stay light here: the web server and azure.functions load only in
the instance processes that ``overcast start`` forks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from overcast import __version__


def _start_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = sub.add_parser("start", help="run the function app (like `func start`)",
                           description="Run the Azure Functions app in --script-root (default: the current folder).")
    start.add_argument("--script-root", "--prefix", type=Path, default=None, help="the app folder (default: cwd)")
    start.add_argument("-p", "--port", type=int, default=None,
                       help="listen port (default: Host.LocalHttpPort or 7071; 0 picks a free port)")
    start.add_argument("--address", default=None, help="bind address (default: Host.LocalHttpAddress or 127.0.0.1)")
    start.add_argument("--cors", default=None, help="comma-separated allowed origins ('*' for any)")
    start.add_argument("--cors-credentials", action="store_true", help="allow credentialed CORS requests")
    start.add_argument("--functions", nargs="+", default=None, metavar="NAME", help="load only these functions")
    start.add_argument("--verbose", action="store_true", help="show host logs at Information level")
    start.add_argument("--user-log-level", default=None,
                       help="minimum level of user logs: Trace, Debug, Information, Warning, Error, Critical, None")
    start.add_argument("--workers", type=int, default=None,
                       help="instance processes (default: FUNCTIONS_WORKER_PROCESS_COUNT or 1)")
    start.add_argument("--reload", action="store_true", help="restart instances when code or settings change")
    start.add_argument("--data-dir", type=Path, default=None,
                       help="embedded store folder (default: OVERCAST_DATA_DIR or <script root>/.overcast)")
    start.add_argument("--no-auth", action="store_true", help="do not enforce function keys (as `func start`)")
    start.add_argument("--json-logs", action="store_true", help="write one JSON object per log line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="overcast", description="Run Azure Functions Python apps anywhere.")
    parser.add_argument("--version", action="version", version=f"overcast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _start_parser(sub)
    from overcast.cli.blobs import add_blob_parser
    from overcast.cli.cosmos import add_cosmos_parser
    from overcast.cli.durable import add_durable_parser
    from overcast.cli.eventhubs import add_eventhubs_parser
    from overcast.cli.keys import add_keys_parser
    from overcast.cli.queues import add_queue_parsers
    from overcast.cli.servicebus import add_servicebus_parser
    from overcast.cli.storage import add_storage_parser

    add_keys_parser(sub)
    add_queue_parsers(sub)
    add_servicebus_parser(sub)
    add_blob_parser(sub)
    add_durable_parser(sub)
    from overcast.cli.kubernetes import add_kubernetes_parser

    add_kubernetes_parser(sub)
    add_storage_parser(sub)
    add_eventhubs_parser(sub)
    from overcast.cli.eventgrid import add_eventgrid_parser

    add_eventgrid_parser(sub)
    from overcast.cli.db import add_db_parser

    add_db_parser(sub)
    add_cosmos_parser(sub)
    return parser


def _start(args: argparse.Namespace) -> int:
    from overcast.config.settings import StartOptions, load
    from overcast.errors import ConfigError

    options = StartOptions(
        script_root=(args.script_root or Path.cwd()).resolve(),
        port=args.port,
        address=args.address,
        cors=args.cors,
        cors_credentials=args.cors_credentials,
        functions=tuple(args.functions) if args.functions else None,
        verbose=args.verbose,
        user_log_level=args.user_log_level,
        workers=args.workers,
        reload=args.reload,
        data_dir=args.data_dir.resolve() if args.data_dir else None,
        no_auth=args.no_auth,
        json_logs=args.json_logs,
    )
    try:
        # Resolved once here for the socket and the process count; each instance resolves again on start so a
        # reload picks up changed settings.
        environ = dict(__import__("os").environ)
        settings = load(options, environ=environ)
        from overcast.host import preflight
        from overcast.storage_api.endpoints import store_endpoint_settings

        preflight(settings)
        endpoints = store_endpoint_settings(environ)
        for warning in settings.warnings:
            print(f"Warning: {warning}", file=sys.stderr)
    except ConfigError as exc:
        from overcast.observe.redact import mask

        print(mask(f"Error: {exc}"), file=sys.stderr)
        return 3
    import secrets

    from overcast.supervisor import run

    # The durable client's channel secret (see durable/api/client_binding.py): one per start, inherited by every
    # instance the supervisor forks, so a client call answered by another instance of the shared socket passes.
    rpc_secret = secrets.token_urlsafe(32)

    from overcast.storage_api.endpoints import bind_endpoints

    # Bound once here, before the supervisor forks: every instance serves the same endpoints (see storage_api).
    storage_sockets = bind_endpoints(endpoints)
    from overcast.storage_api.endpoints import announce

    announce(storage_sockets, endpoints, environ)

    def instance(handle: object) -> int:
        from overcast.host import instance_main

        return instance_main(handle, options, rpc_secret, storage_sockets)

    return run(
        address=settings.address,
        port=settings.port,
        workers=settings.workers,
        instance_main=instance,
        reload=settings.reload,
        watch_root=settings.script_root,
    )


def _handled(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs a command's handler; a bad setting or argument is one line and exit 2, a store error exit 1."""
    from overcast.errors import ConfigError, OvercastError

    try:
        return handler(args)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "start":
        return _start(args)
    handler = getattr(args, "handler", None)
    if handler is not None:  # a command group that names its own handler (set_defaults(handler=...))
        return _handled(handler, args)
    if args.command == "keys":
        from overcast.cli.keys import run_keys

        return run_keys(args)
    if args.command == "durable":
        from overcast.cli.durable import run_durable

        return run_durable(args)
    if args.command == "blob":
        from overcast.cli.blobs import run_blob

        return run_blob(args)
    if args.command == "storage":
        from overcast.cli.storage import run_storage

        return run_storage(args)
    if args.command == "eventhubs":
        from overcast.cli.eventhubs import run_eventhubs

        return run_eventhubs(args)
    if args.command == "servicebus":
        from overcast.cli.servicebus import run_servicebus

        return run_servicebus(args)
    if args.command == "cosmos":
        from overcast.cli.cosmos import run_cosmos

        return run_cosmos(args)
    if args.command in ("queue", "poison"):
        from overcast.cli.queues import run_queue

        return run_queue(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
