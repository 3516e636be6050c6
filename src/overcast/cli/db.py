"""``overcast db status|migrate``: the version of Overcast's schema in the app's server database, and migrating it.

Instances migrate at start by themselves (under an advisory lock, so many may start at once); operators who run
the instances with a role that may not create tables migrate once with an owner's connection instead. The
connection is ``AzureWebJobsStorage`` (the environment, then local.settings.json) unless ``--connection`` names a
URL. The embedded store needs no migration.
"""

from __future__ import annotations

import argparse
import sys
from typing import Protocol

from overcast.cli.common import app_environment, data_dir_for, location_options, script_root_for
from overcast.errors import ConfigError, OvercastError


class _Versioned(Protocol):
    def schema_status(self) -> tuple[str, int, int]: ...

    def migrate(self) -> list[int]: ...


def add_db_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    location = argparse.ArgumentParser(add_help=False)
    location_options(location)
    location.add_argument("--connection", metavar="URL", default=None,
                          help="the database (default: the app's AzureWebJobsStorage)")
    db = subparsers.add_parser("db", help="show or migrate the schema of the app's database",
                               description="Show or migrate Overcast's schema in the app's server database.")
    db.set_defaults(handler=run_db)
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    commands.add_parser("status", parents=[location], help="the schema version applied and the latest")
    commands.add_parser("migrate", parents=[location], help="apply the missing schema versions now")


def run_db(args: argparse.Namespace) -> int:
    """0 on success, 1 when the database failed, 2 when the request was invalid."""
    from overcast.backends.registry import BackendTarget, available_kinds, open_backend
    from overcast.config.connections import EMBEDDED, MISSING, connection_kind, resolve_connection

    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        value = args.connection if args.connection is not None else resolve_connection(None, environ).value
        kind = connection_kind(value)
        if kind == EMBEDDED:
            where = data_dir_for(args, script_root, environ) / "overcast.db"
            print(f"The app's store is the embedded SQLite store ({where}): it creates its tables as it opens and "
                  f"needs no migration.")
            return 0
        if kind == MISSING or kind not in available_kinds():
            raise ConfigError(f"'{kind}' connections have no schema this version of Overcast can manage; "
                              f"pass --connection postgresql://...")
        backend = open_backend(kind, BackendTarget(data_dir_for(args, script_root, environ), value))
        if not hasattr(backend, "schema_status"):
            raise ConfigError(f"The '{kind}' backend has no versioned schema.")
        versioned: _Versioned = backend  # type: ignore[assignment]  # checked just above
        if args.db_command == "migrate":
            applied = versioned.migrate()
            schema, version, latest = versioned.schema_status()
            done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
            print(f"Schema '{schema}': {done}; now at version {version} of {latest}.")
            return 0
        schema, version, latest = versioned.schema_status()
        state = "up to date" if version >= latest else (
            "not created yet" if version == 0 else f"{latest - version} version(s) behind")
        print(f"Schema '{schema}': version {version} of {latest} ({state}).")
        if version < latest:
            print("Instances migrate it when they start; `overcast db migrate` does it now.")
        return 0
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
