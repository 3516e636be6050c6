"""``overcast cosmos``: the app's Cosmos DB containers in the embedded store, while the host runs or not.

A running host's change feed triggers see items put here at their next poll (``feedPollDelay``, 5 s by default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import OvercastError


def add_cosmos_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cosmos = subparsers.add_parser("cosmos", help="put, get, query, delete and list Cosmos DB items; trigger leases")
    location_options(cosmos)
    verbs = cosmos.add_subparsers(dest="cosmos_command", metavar="COMMAND", required=True)
    put = verbs.add_parser("put", help="upsert items from a JSON file or standard input (an object or a list)")
    put.add_argument("container", help="database/container (created when missing)")
    put.add_argument("source", nargs="?", default="-", help="a JSON file, or '-' for standard input (default)")
    put.add_argument("--partition-key-path", default=None,
                     help="the partition key path of a container created here (default: cosmosdb.json, else /id)")
    get = verbs.add_parser("get", help="print one item")
    delete = verbs.add_parser("delete", help="delete one item")
    for verb in (get, delete):
        verb.add_argument("container", help="database/container")
        verb.add_argument("id", help="the item's id")
        verb.add_argument("--partition-key", default=None,
                          help="the item's partition key value (default: the id, for a container keyed by /id)")
    query = verbs.add_parser("query", help="run a Cosmos DB SQL query and print each result as a JSON line")
    query.add_argument("container", help="database/container")
    query.add_argument("sql", help='e.g. "SELECT * FROM c WHERE c.status = @status"')
    query.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                       help="a query parameter: status='\"open\"' or count=3 (a bare word is a string; repeatable)")
    query.add_argument("--partition-key", default=None, help="run in one partition only")
    listing = verbs.add_parser("list", help="databases and containers with counts, or the items of one container")
    listing.add_argument("container", nargs="?", default=None, help="database/container: list its items")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    leases = verbs.add_parser("leases", help="the change feed leases of each trigger: owner, position, backlog")
    leases.add_argument("--json", action="store_true", help="one JSON object per line")
    for verb in (put, get, delete, query, listing, leases):
        location_options(verb)


def _split(path: str) -> tuple[str, str]:
    database, _, container = path.partition("/")
    if not database or not container or "/" in container:
        raise OvercastError(f"'{path}' is not a container path; write it as database/container (e.g. shop/orders).")
    return database, container


def _load_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise OvercastError(f"Cannot read '{source}': {exc.strerror or exc}.") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise OvercastError(f"'{source}' is not JSON ({exc}); give an item object or a list of them.") from None


def _parameters(given: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for text in given:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise OvercastError(f"--param {text!r}: write NAME=JSON, e.g. status='\"open\"' or count=3.")
        try:
            parameters["@" + name.strip().lstrip("@")] = json.loads(value)
        except ValueError:
            parameters["@" + name.strip().lstrip("@")] = value  # a bare word is a string
    return parameters


def _put(store: Any, folder: Path, args: argparse.Namespace) -> None:
    from overcast.bindings import cosmos

    database, container = _split(args.container)
    value = _load_json(args.source)
    items = value if isinstance(value, list) else [value]
    if store.get_container(database, container) is None:
        cosmos.ensure_container(store, folder, database, container, create=True,
                                partition_key_path=args.partition_key_path)
    for item in items:
        stored = store.write(database, container, item)
        print(f"{database}/{container}\t{stored['id']}\t{stored['_etag']}")


def _read(store: Any, args: argparse.Namespace) -> dict[str, Any]:
    from overcast.bindings import cosmos

    database, container = _split(args.container)
    found = cosmos.read_item(store, database, container, args.id, args.partition_key)
    if found is None:
        raise OvercastError(f"There is no item '{args.id}' in {args.container}"
                            f"{'' if args.partition_key is None else ' partition ' + repr(args.partition_key)}.")
    return found


def _delete(store: Any, args: argparse.Namespace) -> None:
    from overcast.backends.documents_store import partition_value

    found = _read(store, args)
    info = store.get_container(*_split(args.container))
    store.delete(*_split(args.container), args.id, partition_value(found, info.partition_key_path))
    print(f"Deleted {args.container}/{args.id}.")


def _list(store: Any, args: argparse.Namespace) -> None:
    if args.container is None:
        for info in store.list_containers():
            row = {"database": info.database, "container": info.name, "partitionKey": info.partition_key_path,
                   "items": info.count, "feedRanges": info.feed_ranges, "sequence": info.sequence}
            print(json.dumps(row) if args.json else
                  f"{info.database}/{info.name}\t{info.count} item(s)\tpartition key {info.partition_key_path}")
        return
    database, container = _split(args.container)
    if store.get_container(database, container) is None:
        raise OvercastError(f"There is no container {args.container}. `overcast cosmos list` lists them.")
    for item in store.items(database, container):
        print(json.dumps(item) if args.json else f"{item['id']}\t{item['_etag']}")


def lease_rows(store: Any) -> list[dict[str, Any]]:
    """Every change feed lease in the store, with the backlog of its feed range."""
    rows: list[dict[str, Any]] = []
    for info in store.list_containers():
        first = store.items(info.database, info.name, limit=1) if info.count else []
        if not first or "LeaseToken" not in first[0]:
            continue
        for lease in store.items(info.database, info.name):
            if "LeaseToken" not in lease:
                continue
            lease_id = str(lease["id"])
            head, _, feed_range = lease_id.rpartition("..")
            prefix, _, watched = head.partition("overcast_")
            watched_db, _, watched_container = watched.partition("_")
            continuation = int(lease["ContinuationToken"])
            monitored = store.get_container(watched_db, watched_container)
            backlog = len(store.read_feed(watched_db, watched_container, int(feed_range), continuation)) \
                if monitored is not None else None
            rows.append({"leases": f"{info.database}/{info.name}", "prefix": prefix,
                         "container": f"{watched_db}/{watched_container}", "range": int(feed_range),
                         "owner": lease.get("Owner"), "continuation": continuation, "backlog": backlog,
                         "timestamp": lease.get("timestamp")})
    return rows


def _leases(store: Any, args: argparse.Namespace) -> None:
    rows = lease_rows(store)
    if not rows and not args.json:
        print("No change feed leases yet: they appear when a host with a Cosmos DB trigger starts.")
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['leases']}\tprefix {row['prefix'] or '-'}\t{row['container']} range {row['range']}\t"
                  f"owner {row['owner'] or '-'}\tat {row['continuation']}\tbacklog {row['backlog']}")


def run_cosmos(args: argparse.Namespace) -> int:
    try:
        script_root = script_root_for(args)
        stores = app_stores(args, script_root, app_environment(script_root))
        try:
            store = stores.documents
            command = args.cosmos_command
            if command == "put":
                _put(store, script_root, args)
            elif command == "get":
                print(json.dumps(_read(store, args), indent=2))
            elif command == "delete":
                _delete(store, args)
            elif command == "query":
                database, container = _split(args.container)
                for row in store.query(database, container, args.sql, _parameters(args.param), args.partition_key,
                                       any_partition=args.partition_key is None):
                    print(json.dumps(row))
            elif command == "list":
                _list(store, args)
            elif command == "leases":
                _leases(store, args)
        finally:
            stores.close()
        return 0
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
