"""``overcast durable``: list, inspect, raise events to, terminate and purge orchestration instances in the store.

The commands work on the embedded durable store directly, while the host runs or not: a running host's engine
finds the messages written here at its next poll (within a second).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.config import json_text
from overcast.errors import ConfigError, InputError, OvercastError

if TYPE_CHECKING:
    from overcast.durable.store import DurableStore, InstanceRecord

DEFAULT_HUB = "TestHubName"  # Core Tools' hub when host.json names none
FINISHED = ("Completed", "Failed", "Terminated", "Canceled")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SHORT = 70  # characters of an input, result or error shown in the timeline


def _status(text: str) -> str:
    from overcast.durable.core.model import RuntimeStatus

    try:
        return RuntimeStatus.from_name(text).value
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def parse_duration(text: str) -> float:
    """``30s``, ``15m``, ``2h``, ``1d``, ``1w`` as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration; use e.g. 30s, 15m, 2h, 1d or 1w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def _common(parser: argparse.ArgumentParser) -> None:
    location_options(parser)
    parser.add_argument("--hub", default=argparse.SUPPRESS, metavar="NAME",
                        help="the task hub (default: host.json extensions.durableTask.hubName, else TestHubName)")


def add_durable_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    durable = subparsers.add_parser("durable", help="list, show, raise events to, terminate and purge orchestrations")
    _common(durable)
    verbs = durable.add_subparsers(dest="durable_command", metavar="COMMAND", required=True)
    listing = verbs.add_parser("list", help="orchestration instances, newest last")
    listing.add_argument("--status", nargs="+", action="extend", type=_status, metavar="S",
                         help="only these runtime statuses (Running, Completed, Failed, ...)")
    # Not --prefix: other commands take it as Core Tools' alias of --script-root.
    listing.add_argument("--id-prefix", default="", metavar="P", help="only instance ids starting with P")
    listing.add_argument("--json", action="store_true", help="one status JSON object per line")
    show = verbs.add_parser("show", help="an instance and its history as a timeline")
    show.add_argument("instance_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="the status JSON with the full history")
    show.add_argument("--all", action="store_true", help="include OrchestratorStarted/Completed events")
    raising = verbs.add_parser("raise", help="send an external event to an instance")
    raising.add_argument("instance_id", metavar="ID")
    raising.add_argument("event", metavar="EVENT")
    raising.add_argument("data", metavar="JSON", nargs="?", default="null", help="the event data (default: null)")
    terminate = verbs.add_parser("terminate", help="terminate a running instance")
    terminate.add_argument("instance_id", metavar="ID")
    terminate.add_argument("--reason", default=None, help="shown as the instance's output")
    purge = verbs.add_parser("purge", help="delete an instance, or every instance matching filters")
    purge.add_argument("instance_id", metavar="ID", nargs="?")
    purge.add_argument("--status", nargs="+", action="extend", type=_status, metavar="S",
                       help="only these statuses (default with --older-than: the finished ones)")
    purge.add_argument("--older-than", type=parse_duration, metavar="AGE", help="created more than AGE ago (1d)")
    purge.add_argument("--force", action="store_true", help="purge ID even when it has not finished")
    for verb in (listing, show, raising, terminate, purge):
        _common(verb)


def hub_name(args: argparse.Namespace, script_root: Path, environ: Mapping[str, str]) -> str:
    from overcast.durable.core.model import task_hub_problem

    given = getattr(args, "hub", None)
    if given:
        if (problem := task_hub_problem(str(given))) is not None:
            raise ConfigError(f"--hub: {problem}")
        return str(given)
    from overcast.config.host_json import load_host_json

    configured = load_host_json(script_root, environ).section("extensions", "durableTask").get("hubname")
    hub = str(configured) if configured else DEFAULT_HUB
    if (problem := task_hub_problem(hub)) is not None:
        raise ConfigError(f"host.json extensions.durableTask.hubName: {problem}")
    return hub


def run_durable(args: argparse.Namespace) -> int:
    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        hub = hub_name(args, script_root, environ)
        instance_id = getattr(args, "instance_id", None)
        if instance_id is not None:
            from overcast.durable.core.model import text_problem

            if (problem := text_problem(instance_id, "Instance ID")) is not None:
                raise ConfigError(problem)
        stores = app_stores(args, script_root, environ)
        store = stores.durable
        try:
            command = {"list": _list, "show": _show, "raise": _raise, "terminate": _terminate, "purge": _purge}
            return command[args.durable_command](store, hub, args)
        finally:
            stores.close()
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def _instance(store: DurableStore, hub: str, instance_id: str) -> InstanceRecord:
    record = store.get_instance(hub, instance_id)
    if record is None:
        raise ConfigError(f"No orchestration instance '{instance_id}' in task hub '{hub}'. "
                          "Check the id with `overcast durable list` (and --hub / --data-dir).")
    return record


def _list(store: DurableStore, hub: str, args: argparse.Namespace) -> int:
    from overcast.durable.api.status_json import format_status_time, status_payload
    from overcast.durable.store import InstanceQuery

    query = InstanceQuery(runtime_statuses=tuple(args.status or ()), instance_id_prefix=args.id_prefix)
    records: list[InstanceRecord] = []
    token: str | None = None
    while True:
        page = store.query_instances(hub, query, 500, token)
        records += page.items
        if (token := page.continuation) is None:
            break
    records.sort(key=lambda record: (record.created_time, record.instance_id))
    if args.json:
        for record in records:
            print(json.dumps(status_payload(record)))
        return 0
    if not records:
        print(f"No orchestration instances in task hub '{hub}'.")
        return 0
    rows = [("INSTANCE ID", "NAME", "STATUS", "CREATED", "UPDATED")]
    rows += [(r.instance_id, r.name, r.runtime_status, format_status_time(r.created_time),
              format_status_time(r.last_updated_time)) for r in records]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


def shorten(value: Any, limit: int = SHORT) -> str:
    """One line of at most ``limit`` characters: JSON text shown compactly, anything else as text."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(store: DurableStore, hub: str, args: argparse.Namespace) -> int:
    from overcast.durable.api.status_json import format_status_time, status_payload

    record = _instance(store, hub, args.instance_id)
    history = store.get_history(hub, args.instance_id)
    if args.json:
        print(json.dumps(status_payload(record, history, show_history_output=True), indent=2))
        return 0
    print(f"Instance   {record.instance_id}")
    print(f"Name       {record.name}" + (f" (version {record.version})" if record.version else ""))
    print(f"Status     {record.runtime_status}")
    print(f"Created    {format_status_time(record.created_time)}")
    print(f"Updated    {format_status_time(record.last_updated_time)}")
    for label, text in (("Input", record.input), ("Output", record.output), ("Custom", record.custom_status)):
        if text is not None:
            print(f"{label:<10} {shorten(text, 200)}")
    if record.parent is not None:
        print(f"Parent     {record.parent.instance_id}")
    print()
    lines = timeline(history, include_framing=args.all)
    print("\n".join(lines) if lines else "(no history yet: the engine has not run the instance)")
    return 0


def timeline(history: Sequence[dict[str, Any]], *, include_framing: bool = False) -> list[str]:
    """One line per event: offset from the first event, event name, task id and name, input/result/error."""
    from overcast.durable.api.status_json import EVENT_NAMES
    from overcast.durable.core import history as h

    names: dict[Any, str] = {}  # scheduling EventId -> task name, for completions
    start: datetime | None = None
    lines = []
    for event in history:
        kind = h.event_type(event)
        if kind in h.SCHEDULING_EVENTS:
            names[event.get("EventId")] = str(event.get("Name") or "")
        if not include_framing and kind in (h.EventType.ORCHESTRATOR_STARTED, h.EventType.ORCHESTRATOR_COMPLETED):
            continue
        moment = h.event_time(event)
        start = start or moment
        offset = f"+{(moment - start).total_seconds():.3f}s" if moment and start else "?"
        name = EVENT_NAMES.get(kind, f"EventType {event.get('EventType')}")
        lines.append(f"{offset:>10}  {name:<34} {_detail(kind, event, names)}".rstrip())
    return lines


def _detail(kind: int, event: dict[str, Any], names: Mapping[Any, str]) -> str:
    from overcast.durable.api.status_json import EVENT_NAMES
    from overcast.durable.core import history as h

    get = event.get
    completed = h.completed_id(event)
    if kind in (h.EventType.TASK_SCHEDULED, h.EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
        target = f" ({get('InstanceId')})" if get("InstanceId") else ""
        return f"#{get('EventId')} {get('Name')}{target}{_labelled('input', get('Input'))}"
    if kind == h.EventType.TIMER_CREATED:
        return f"#{get('EventId')} fires at {get('FireAt')}"
    if kind == h.EventType.EVENT_SENT:
        return f"#{get('EventId')} {get('Name')} -> {get('InstanceId')}  {shorten(get('Input'))}"
    if completed is not None:
        label = f"#{completed} {names.get(completed, '')}".rstrip()
        if kind in (h.EventType.TASK_FAILED, h.EventType.SUB_ORCHESTRATION_INSTANCE_FAILED):
            return f"{label}  error {shorten(get('Reason'))}"
        return label if kind == h.EventType.TIMER_FIRED else f"{label}  result {shorten(get('Result'))}"
    if kind == h.EventType.EXECUTION_STARTED:
        return f"{get('Name')}{_labelled('input', get('Input'))}"
    if kind == h.EventType.EXECUTION_COMPLETED:
        code = get("OrchestrationStatus")
        status = _status_name(code)
        failure = get("FailureDetails") or {}
        return f"{status}  {'error' if failure else 'result'} {shorten(get('Result'))}"
    if kind == h.EventType.EVENT_RAISED:
        return f"{get('Name')}  {shorten(get('Input'))}"
    if kind == h.EventType.EXECUTION_TERMINATED:
        return f"reason {shorten(get('Input'))}"
    if kind in (h.EventType.EXECUTION_SUSPENDED, h.EventType.EXECUTION_RESUMED) and get("Reason"):
        return f"reason {shorten(get('Reason'))}"
    return "" if kind in EVENT_NAMES else shorten(dict(event))


def _labelled(label: str, value: Any) -> str:
    return "" if value is None else f"  {label} {shorten(value)}"


def _status_name(code: Any) -> str:
    from overcast.durable.core.model import RuntimeStatus

    try:
        return RuntimeStatus.from_code(code).value
    except (TypeError, ValueError):
        return str(code)


def _send(store: DurableStore, hub: str, instance_id: str, event: dict[str, Any]) -> None:
    from overcast.durable.store import NewMessage

    store.send_message(hub, NewMessage(instance_id, event))


def _running(store: DurableStore, hub: str, instance_id: str, action: str) -> InstanceRecord:
    record = _instance(store, hub, instance_id)
    if record.runtime_status in FINISHED:
        raise ConfigError(f"Instance '{instance_id}' is {record.runtime_status}: it cannot {action} any more.")
    return record


def _raise(store: DurableStore, hub: str, args: argparse.Namespace) -> int:
    from overcast.durable.core import history as h

    try:
        json_text.loads(args.data, "The event data")
    except InputError as problem:
        raise ConfigError(f"{problem} Send a flatter value.") from None
    except ValueError:
        raise ConfigError(f"The event data must be JSON, e.g. '{{\"ok\": true}}' or '\"text\"'; got {args.data!r}. "
                          "Quote it for your shell.") from None
    _running(store, hub, args.instance_id, "receive events")
    _send(store, hub, args.instance_id, h.event_raised(args.event, args.data, datetime.now(timezone.utc)))
    print(f"Raised '{args.event}' to '{args.instance_id}'.")
    return 0


def _terminate(store: DurableStore, hub: str, args: argparse.Namespace) -> int:
    from overcast.durable.core import history as h

    _running(store, hub, args.instance_id, "be terminated")
    _send(store, hub, args.instance_id, h.execution_terminated(args.reason, datetime.now(timezone.utc)))
    print(f"Terminating '{args.instance_id}' (a running host applies it within a second).")
    return 0


def _purge(store: DurableStore, hub: str, args: argparse.Namespace) -> int:
    from overcast.durable.store import InstanceQuery

    if args.instance_id is not None:
        if args.status or args.older_than is not None:
            raise ConfigError("Give either an instance ID or --status/--older-than filters, not both.")
        record = _instance(store, hub, args.instance_id)
        if record.runtime_status not in FINISHED and not args.force:
            raise ConfigError(f"Instance '{args.instance_id}' is {record.runtime_status}. Terminate it first, or "
                              "pass --force to delete it while it runs.")
        store.purge_instance(hub, args.instance_id)
        print(f"Purged instance '{args.instance_id}'.")
        return 0
    if not args.status and args.older_than is None:
        raise ConfigError("Say what to purge: an instance ID, or --status and/or --older-than (e.g. --older-than 7d).")
    created_to = time.time() - args.older_than if args.older_than is not None else None
    query = InstanceQuery(runtime_statuses=tuple(args.status or FINISHED), created_to=created_to)
    print(f"Purged {store.purge_instances(hub, query)} instance(s).")
    return 0
