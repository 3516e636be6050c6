"""``overcast eventhubs``: send events, tail a partition or a consumer group, list hubs with their partitions,
checkpoints and lag; on the app's embedded store, while the host runs or not."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import OvercastError


def add_eventhubs_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("eventhubs", help="send, tail and list Event Hubs events")
    location_options(group)
    verbs = group.add_subparsers(dest="eventhubs_command", metavar="COMMAND", required=True)
    send = verbs.add_parser("send", help="send an event ('-' reads its body from standard input)")
    send.add_argument("hub")
    send.add_argument("body")
    where = send.add_mutually_exclusive_group()
    where.add_argument("-k", "--partition-key", help="hashed to a partition, as Event Hubs does")
    where.add_argument("-p", "--partition-id", help="send to this partition")
    send.add_argument("--property", action="append", default=[], metavar="NAME=VALUE",
                      help="an application property (repeatable; VALUE is JSON when it parses, else text)")
    send.add_argument("-n", "--count", type=int, default=1, help="send the event this many times (default 1)")
    tail = verbs.add_parser("tail", help="show a hub's last events, or a consumer group's unprocessed ones")
    tail.add_argument("hub")
    tail.add_argument("-p", "--partition", help="only this partition")
    tail.add_argument("-g", "--consumer-group", help="the events after this group's checkpoints")
    tail.add_argument("-n", "--count", type=int, default=10, help="events per partition (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new events until interrupted")
    verbs.add_parser("list", help="hubs, partitions' sequence numbers, consumer groups' checkpoints and lag")
    for verb in verbs.choices.values():
        location_options(verb)


def _property(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise OvercastError(f"--property {text!r}: use NAME=VALUE.")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


def _show(event: Any) -> str:
    try:
        body: Any = event.body.decode("utf-8")
    except UnicodeDecodeError:
        body = {"base64": __import__("base64").b64encode(event.body).decode()}
    return json.dumps({"partition": event.partition, "sequenceNumber": event.sequence_number, "offset": event.offset,
                       "enqueuedTime": event.enqueued_time.isoformat(), "partitionKey": event.partition_key,
                       "properties": dict(event.properties), "body": body})


def _send(directory: Any, args: argparse.Namespace) -> None:
    from overcast.backends.eventhubs_store import EventData

    if args.count < 1:
        raise OvercastError("--count must be at least 1.")
    body = sys.stdin.buffer.read() if args.body == "-" else os.fsencode(args.body)
    properties = dict(_property(p) for p in args.property)
    directory.ensure(args.hub)
    events = [EventData(body, properties, args.partition_key) for _ in range(args.count)]
    for event in directory.store.send(args.hub, events, args.partition_id):
        print(f"partition {event.partition} sequence {event.sequence_number}")


def _tail(directory: Any, args: argparse.Namespace) -> None:
    store = directory.store
    info = store.hub(args.hub)
    if info is None:
        raise OvercastError(f"Event hub '{args.hub}' does not exist yet; `overcast eventhubs list` shows the hubs.")
    partitions = [args.partition] if args.partition is not None else info.partition_ids
    extents = {p.partition: p for p in store.partitions(args.hub)}
    checkpoints = store.checkpoints(args.hub, args.consumer_group) if args.consumer_group else {}
    position: dict[str, int] = {}
    for partition in partitions:
        extent = extents.get(partition)
        if extent is None:
            raise OvercastError(f"Event hub '{info.name}' has no partition {partition!r}; its partitions are 0 to "
                                f"{info.partition_count - 1}.")
        if args.consumer_group:
            found = checkpoints.get(partition)
            position[partition] = found.sequence_number + 1 if found else extent.begin_sequence_number
        else:
            position[partition] = max(extent.begin_sequence_number, extent.last_sequence_number + 1 - args.count)
    while True:
        for partition in partitions:
            for event in store.read(args.hub, partition, position[partition], args.count if not args.follow else 100):
                print(_show(event), flush=True)
                position[partition] = event.sequence_number + 1
        if not args.follow:
            return
        time.sleep(0.2)


def _list(directory: Any) -> None:
    store = directory.store
    for declared in directory.config.hubs.values():
        directory.ensure(declared.name)
    for info in store.hubs():
        extents = store.partitions(info.name)
        print(f"{info.name}\tpartitions={info.partition_count}\tretention={info.retention / 3600:g}h")
        for extent in extents:
            last = extent.last_enqueued_time.isoformat() if extent.last_enqueued_time else "-"
            print(f"  partition {extent.partition}\tbegin={extent.begin_sequence_number}\t"
                  f"last={extent.last_sequence_number}\tlastEnqueued={last}")
        for group in info.consumer_groups:
            checkpoints = store.checkpoints(info.name, group)
            owners = {o.partition: o for o in store.ownership(info.name, group) if not o.expired}
            total = 0
            rows = []
            for extent in extents:
                found = checkpoints.get(extent.partition)
                done = found.sequence_number if found else extent.begin_sequence_number - 1
                lag = max(0, extent.last_sequence_number - done)
                total += lag
                owner = owners[extent.partition].owner if extent.partition in owners else "-"
                rows.append(f"    partition {extent.partition}\tcheckpoint={found.sequence_number if found else '-'}"
                            f"\tlag={lag}\towner={owner}")
            print(f"  consumer group {group}\tlag={total}")
            for row in rows:
                print(row)


def run_eventhubs(args: argparse.Namespace) -> int:
    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        from overcast.bindings.eventhub_hubs import HubDirectory
        from overcast.config.eventhubs_config import load_hubs_config

        stores = app_stores(args, script_root, environ)
        try:
            directory = HubDirectory(stores.eventhubs, load_hubs_config(script_root, environ))
            command = args.eventhubs_command
            if command == "send":
                _send(directory, args)
            elif command == "tail":
                _tail(directory, args)
            else:
                _list(directory)
        finally:
            stores.close()
        return 0
    except KeyboardInterrupt:
        return 0
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
