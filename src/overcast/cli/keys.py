"""``overcast keys``: list and change the function keys of an app, whether or not its host is running.

The keys live in the app's state store (SQLite in WAL mode), which a running host re-reads within seconds, so a
key set here works on every instance without a restart. Only stdlib and light Overcast modules load at import.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import ConfigError, OvercastError

if TYPE_CHECKING:
    from overcast.web.keys import KeyRing

_MASTER_NAMES = ("master", "_master")
_HINTS = {
    "Invalid key value": "a key must be non-empty, without spaces or control characters",
    "Invalid key name": "a key name must be non-empty, without spaces or control characters",
    "Invalid function name": "a function name must be non-empty, without spaces, control characters or '/'",
}


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--function", metavar="FN", default=None, help="a key of this function (default: a host key)")
    parser.add_argument("--system", action="store_true", help="a host system key instead of a host function key")


def add_keys_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys`` and its sub-commands (list, set, new, delete) to the ``overcast`` parser."""
    location = argparse.ArgumentParser(add_help=False)
    location_options(location)
    keys = subparsers.add_parser(
        "keys", help="list or change function keys", description="List or change the function keys of the app."
    )
    location_options(keys)
    commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", parents=[location], help="show every key")
    listing.add_argument("--json", action="store_true", help="print one JSON object (master, host, system, functions)")
    setter = commands.add_parser("set", parents=[location], help="set a key to a value you choose")
    _target_options(setter)
    setter.add_argument("name", metavar="NAME", help="key name ('master' for the master key)")
    setter.add_argument("value", metavar="VALUE", help="key value")
    generator = commands.add_parser("new", parents=[location], help="set a key to a new random value and print it")
    _target_options(generator)
    generator.add_argument("name", metavar="NAME", help="key name ('master' for the master key)")
    deleter = commands.add_parser("delete", parents=[location], help="delete a key")
    _target_options(deleter)
    deleter.add_argument("name", metavar="NAME", help="key name")


def _describe(args: argparse.Namespace) -> str:
    if args.function:
        return f"key '{args.name}' of function '{args.function}'"
    if args.name.lower() in _MASTER_NAMES:
        return "master key"
    return f"host {'system' if args.system else 'function'} key '{args.name}'"


def _print_table(snapshot: dict[str, Any]) -> None:
    rows = [("KIND", "FUNCTION", "NAME", "VALUE"), ("master", "", "master", str(snapshot["master"]))]
    rows += [("host", "", name, value) for name, value in snapshot["host"].items()]
    rows += [("system", "", name, value) for name, value in snapshot["system"].items()]
    rows += [
        ("function", function, name, value)
        for function, keys in snapshot["functions"].items()
        for name, value in keys.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3])


def _list(ring: KeyRing, args: argparse.Namespace) -> int:
    # The host creates each function's keys when it starts (it knows the functions); here only the host's.
    ring.ensure(())
    snapshot = ring.snapshot(ring.known_functions())
    if args.json:
        print(json.dumps(snapshot, indent=2))
    else:
        _print_table(snapshot)
    return 0


def _set(ring: KeyRing, args: argparse.Namespace, value: str | None) -> tuple[str, bool]:
    if args.function:
        return ring.set_function_key(args.function, args.name, value)
    name = "_master" if args.name.lower() in _MASTER_NAMES else args.name
    return ring.set_host_key("systemKeys" if args.system else "functionKeys", name, value)


def _run(ring: KeyRing, args: argparse.Namespace) -> int:
    command = args.keys_command
    if command == "list":
        return _list(ring, args)
    if args.function and args.system:
        raise ConfigError("--system selects a host system key; it cannot be combined with --function.")
    if command == "set":
        _, created = _set(ring, args, args.value)
        print(f"{'Created' if created else 'Updated'} {_describe(args)}.")
        return 0
    if command == "new":
        value, _ = _set(ring, args, None)
        print(value)
        return 0
    if args.function:
        deleted = ring.delete_function_key(args.function, args.name)
    else:
        name = "_master" if args.name.lower() in _MASTER_NAMES else args.name
        deleted = ring.delete_host_key("systemKeys" if args.system else "functionKeys", name)
    if not deleted:
        print(f"Error: there is no {_describe(args)} to delete; `overcast keys list` shows the keys.", file=sys.stderr)
        return 1
    print(f"Deleted {_describe(args)}.")
    return 0


def run_keys(args: argparse.Namespace) -> int:
    """Run one ``overcast keys`` command: 0 on success, 1 when it failed, 2 when the request was invalid."""
    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        from overcast.web.keys import KeyRing

        stores = app_stores(args, script_root, environ)
        store = stores.state
        try:
            return _run(KeyRing(store, environ), args)
        finally:
            stores.close()
    except ValueError as exc:
        hint = _HINTS.get(str(exc))
        print(f"Error: {exc}" + (f": {hint}." if hint else ""), file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
