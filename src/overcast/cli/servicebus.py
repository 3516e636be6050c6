"""``overcast servicebus``: the app's Service Bus entities in the embedded store, while the host runs or not."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import OvercastError


def add_servicebus_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bus = subparsers.add_parser("servicebus", help="send, peek, list, dead-letter, resubmit and purge Service Bus "
                                                   "messages")
    location_options(bus)
    verbs = bus.add_subparsers(dest="servicebus_command", metavar="COMMAND", required=True)
    send = verbs.add_parser("send", help="send a message to a queue or topic ('-' reads it from standard input)")
    send.add_argument("entity", help="a queue or a topic")
    send.add_argument("message")
    send.add_argument("--property", "-p", action="append", default=[], metavar="NAME=VALUE",
                      help="an application property (repeatable; a JSON number or true/false is typed)")
    send.add_argument("--session-id", default=None)
    send.add_argument("--message-id", default=None)
    send.add_argument("--correlation-id", default=None)
    send.add_argument("--subject", "--label", default=None)
    send.add_argument("--content-type", default=None)
    send.add_argument("--ttl", type=float, default=None, help="time-to-live in seconds")
    send.add_argument("--schedule", default=None, metavar="WHEN",
                      help="enqueue at this time: an ISO 8601 UTC time, or +SECONDS from now")
    send.add_argument("--topic", action="store_true", help="create the entity as a topic when it does not exist")
    peek = verbs.add_parser("peek", help="show messages without locking them (PATH/$deadletterqueue for its DLQ)")
    peek.add_argument("entity", help="a queue, TOPIC/subscriptions/SUB, or either with /$deadletterqueue")
    peek.add_argument("-n", "--count", type=int, default=32)
    verbs.add_parser("list", help="entities with their active, dead-letter and scheduled counts")
    dead = verbs.add_parser("deadletter", help="show the dead-lettered messages of an entity")
    dead.add_argument("entity")
    dead.add_argument("-n", "--count", type=int, default=32)
    resubmit = verbs.add_parser("resubmit", help="send dead-lettered messages back to their entity")
    resubmit.add_argument("entity")
    resubmit.add_argument("sequence_numbers", nargs="*", type=int, help="only these (default: all)")
    purge = verbs.add_parser("purge", help="delete every message of an entity (or of PATH/$deadletterqueue)")
    purge.add_argument("entity")
    for verb in verbs.choices.values():
        location_options(verb)


def _value(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def _properties(pairs: list[str]) -> dict[str, Any]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise OvercastError(f"--property {pair!r} must be NAME=VALUE.")
        found[name.strip()] = _value(value)
    return found


def _schedule(text: str | None, now: float) -> float | None:
    if text is None:
        return None
    if text.startswith("+"):
        try:
            return now + float(text[1:])
        except ValueError:
            raise OvercastError(f"--schedule {text!r}: write +SECONDS or an ISO 8601 time.") from None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OvercastError(f"--schedule {text!r} is not an ISO 8601 time (like 2025-01-01T12:00:00Z).") from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _show(received: Any) -> dict[str, Any]:
    message = received.message
    try:
        body: Any = message.body.decode("utf-8")
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(message.body).decode()}
    shown = {
        "sequenceNumber": received.sequence_number, "messageId": message.message_id, "state": received.state,
        "enqueuedTime": _iso(received.enqueued_time), "expiresAt": _iso(received.expires_at),
        "deliveryCount": received.delivery_count, "sessionId": message.session_id, "subject": message.subject,
        "correlationId": message.correlation_id, "contentType": message.content_type,
        "applicationProperties": dict(message.application_properties) or None,
        "deadLetterReason": received.dead_letter_reason,
        "deadLetterErrorDescription": received.dead_letter_description, "body": body,
    }
    return {k: v for k, v in shown.items() if v is not None}


def run_servicebus(args: argparse.Namespace) -> int:
    try:
        import time

        from overcast.backends.servicebus_store import QUEUE, TOPIC, OutgoingMessage
        from overcast.bindings.servicebus_config import load_entities

        script_root = script_root_for(args)
        environ = app_environment(script_root)
        stores = app_stores(args, script_root, environ)
        try:
            store = stores.servicebus
            # The app's entity config, as the host applies it: a topic's subscriptions exist before the first send.
            store.declare(load_entities(script_root, {**os.environ, **environ}))
            command = args.servicebus_command
            entity = str(getattr(args, "entity", "")).lower()
            if command == "send":
                body = sys.stdin.buffer.read() if args.message == "-" else os.fsencode(args.message)
                store.ensure(entity, TOPIC if args.topic else QUEUE)
                message = OutgoingMessage(
                    body, message_id=args.message_id, session_id=args.session_id,
                    correlation_id=args.correlation_id, subject=args.subject, content_type=args.content_type,
                    time_to_live=args.ttl, scheduled_enqueue_time=_schedule(args.schedule, time.time()),
                    application_properties=_properties(args.property))
                (number,) = store.send(entity, [message])
                print(number if number else "sent")
            elif command in ("peek", "deadletter"):
                path = entity if command == "peek" or entity.endswith("/$deadletterqueue") \
                    else f"{entity}/$deadletterqueue"
                for received in store.peek(path, args.count):
                    print(json.dumps(_show(received)))
            elif command == "list":
                print("entity\tkind\tactive\tdeadletter\tscheduled")
                for counts in store.entities():
                    print(f"{counts.path}\t{counts.kind}\t{counts.active}\t{counts.dead_letter}\t{counts.scheduled}")
            elif command == "resubmit":
                moved = store.resubmit(entity, args.sequence_numbers or None)
                print(f"Resubmitted {moved} message(s) to '{entity.removesuffix('/$deadletterqueue')}'.")
            elif command == "purge":
                print(f"Deleted {store.purge(entity)} message(s).")
        finally:
            stores.close()
        return 0
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
