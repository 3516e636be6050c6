"""``overcast eventgrid``: publish to the app's local Event Grid topics and look at them, while the host runs or not.

Published events wait in the store until a host routes and delivers them (a running host polls every
``OVERCAST_EVENTGRID_POLL_SECONDS``); ``pending`` and ``deadletters`` show what the deliveries are doing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import ConfigError, InputError


def add_eventgrid_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("eventgrid", help="publish Event Grid events; list topics, subscriptions, "
                                                    "pending and dead-lettered deliveries")
    location_options(group)
    verbs = group.add_subparsers(dest="eventgrid_command", metavar="COMMAND", required=True)
    publish = verbs.add_parser("publish", help="publish events to a local topic")
    publish.add_argument("topic")
    publish.add_argument("events", nargs="?", default=None,
                         help="an event or an array of events as JSON ('-': standard input); or use the options")
    publish.add_argument("--subject", default=None, help="the event's subject (builds one Event Grid event)")
    publish.add_argument("--type", dest="event_type", default=None, help="the event's eventType")
    publish.add_argument("--data", default=None, help="the event's data as JSON (default: {})")
    topics = verbs.add_parser("topics", help="local topics (eventgrid.json) with subscriptions and pending counts")
    subscriptions = verbs.add_parser("subscriptions", help="subscriptions, their targets, filters and retry policy")
    subscriptions.add_argument("topic", nargs="?", default=None)
    pending = verbs.add_parser("pending", help="deliveries not done yet (and events not routed yet)")
    dead = verbs.add_parser("deadletters", help="dead-lettered deliveries, most recent first")
    for verb in (publish, topics, subscriptions, pending, dead):
        location_options(verb)
    for verb in (topics, subscriptions, pending, dead):
        verb.add_argument("--json", action="store_true", help="one JSON object per line")
    for verb in (pending, dead):
        verb.add_argument("-n", "--count", type=int, default=100)
    group.set_defaults(handler=run_eventgrid)


def _events(args: argparse.Namespace) -> list[dict[str, Any]]:
    from overcast.eventgrid.events import check_publishable, parse_events

    if args.events is not None:
        if args.subject or args.event_type or args.data:
            raise InputError("Give the events as JSON or build one with --subject/--type/--data, not both.")
        text = sys.stdin.read() if args.events == "-" else args.events
        events = parse_events(text, "The events")
    else:
        if not args.subject or not args.event_type:
            raise InputError("Give the events as JSON, or --subject and --type (and --data) to build one.")
        data = parse_events(args.data, "--data")[0] if args.data and args.data.strip().startswith("{") else (
            json.loads(args.data) if args.data else {})
        events = [{"subject": args.subject, "eventType": args.event_type, "data": data}]
    for index, event in enumerate(events):
        check_publishable(event, index)
    return events


def _print(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    for row in rows:
        print(json.dumps(row) if as_json else "\t".join(str(row.get(c, "")) for c in columns))


def run_eventgrid(args: argparse.Namespace) -> int:
    from overcast.eventgrid.config import load_config
    from overcast.eventgrid.events import complete_event, iso
    from overcast.eventgrid.kind import topic_path

    script_root = script_root_for(args)
    environ = app_environment(script_root)
    config = load_config(script_root)
    command = args.eventgrid_command
    if command in ("topics", "subscriptions"):
        topic = getattr(args, "topic", None)
        if topic is not None and topic.lower() not in config.topics:
            raise ConfigError(f"eventgrid.json declares no topic '{topic}' (topics: {sorted(config.topics)}).")
        stores = app_stores(args, script_root, environ)
        try:
            waiting: dict[str, int] = {}
            for delivery in stores.eventgrid.pending(100_000):
                waiting[delivery.subscription] = waiting.get(delivery.subscription, 0) + 1
        finally:
            stores.close()
        if command == "topics":
            rows = [{"topic": t, "subscriptions": len(subs), "pending": sum(waiting.get(s, 0) for s in subs)}
                    for t, subs in sorted(config.topics.items())]
            _print(rows, args.json, ["topic", "subscriptions", "pending"])
        else:
            rows = [{"subscription": s.name, "topic": s.topic, "target": s.target,
                     "filter": {k: v for k, v in (("subjectBeginsWith", s.filter.subject_begins_with),
                                                  ("subjectEndsWith", s.filter.subject_ends_with),
                                                  ("includedEventTypes", list(s.filter.included_event_types)))
                                if v},
                     "maxDeliveryAttempts": s.max_attempts, "eventTimeToLiveInMinutes": s.ttl_minutes,
                     "deadLetterContainer": s.dead_letter_container, "pending": waiting.get(s.name, 0)}
                    for s in sorted(config.all, key=lambda s: (s.topic, s.name))
                    if topic is None or s.topic == topic.lower()]
            _print(rows, args.json, ["subscription", "topic", "target", "pending"])
        return 0
    stores = app_stores(args, script_root, environ)
    try:
        store = stores.eventgrid
        if command == "publish":
            topic = args.topic.lower()
            now = time.time()
            texts = [json.dumps(complete_event(event, topic_path(topic), now)) for event in _events(args)]
            store.publish(topic, texts)
            if topic not in config.topics:
                print(f"Warning: eventgrid.json declares no topic '{topic}'; a host drops its events.",
                      file=sys.stderr)
            print(f"Published {len(texts)} event(s) to topic '{topic}'.")
        elif command == "pending":
            inbox = store.inbox_size()
            if inbox and not args.json:
                print(f"{inbox} event(s) published and not routed yet (a running host routes them).")
            rows = [{"id": d.id, "topic": d.topic, "subscription": d.subscription, "attempts": d.attempts,
                     "due": iso(d.due), "expires": iso(d.expires), "lastError": d.last_error,
                     "lastHttpStatusCode": d.last_status, "event": json.loads(d.event)}
                    for d in store.pending(args.count)]
            _print(rows, args.json, ["id", "topic", "subscription", "attempts", "due", "lastError"])
        else:
            rows = [{"id": d.id, "deadLetteredAt": iso(d.dead_at), "topic": d.topic, "subscription": d.subscription,
                     "deadLetterReason": d.reason, "deliveryAttempts": d.attempts, "lastError": d.last_error,
                     "lastHttpStatusCode": d.last_status, "event": json.loads(d.event)}
                    for d in store.dead_letters(args.count)]
            _print(rows, args.json, ["deadLetteredAt", "topic", "subscription", "deadLetterReason",
                                     "deliveryAttempts", "lastError"])
        return 0
    finally:
        stores.close()
