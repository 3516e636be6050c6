"""``overcast queue`` and ``overcast poison``: the app's queues in the embedded store, while the host runs or not."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import OvercastError


def add_queue_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queue = subparsers.add_parser("queue", help="send, peek, list and clear queue messages")
    location_options(queue)
    verbs = queue.add_subparsers(dest="queue_command", metavar="COMMAND", required=True)
    send = verbs.add_parser("send", help="enqueue a message ('-' reads it from standard input)")
    send.add_argument("queue")
    send.add_argument("message")
    peek = verbs.add_parser("peek", help="show visible messages without taking them")
    peek.add_argument("queue")
    peek.add_argument("-n", "--count", type=int, default=32)
    verbs.add_parser("list", help="queues and their message counts")
    clear = verbs.add_parser("clear", help="delete every message of a queue")
    clear.add_argument("queue")
    for verb in (send, peek, clear, verbs.choices["list"]):
        location_options(verb)
    poison = subparsers.add_parser("poison", help="list poison queues and requeue their messages")
    location_options(poison)
    pverbs = poison.add_subparsers(dest="poison_command", metavar="COMMAND", required=True)
    location_options(pverbs.add_parser("list", help="poison queues and their message counts"))
    requeue = pverbs.add_parser("requeue", help="move every message of <queue>-poison back to <queue>")
    requeue.add_argument("queue", help="the queue (with or without the -poison suffix)")
    location_options(requeue)


def _encoding(script_root: Any, environ: dict[str, str]) -> str:
    from overcast.config.host_json import load_host_json
    from overcast.triggers.queue_options import queue_options

    return queue_options(load_host_json(script_root, environ).section("extensions", "queues"), environ).message_encoding


def _message_body(given: str, encoding: str) -> bytes:
    """The bytes to send: standard input as bytes for '-', else the argument's own bytes (as the shell passed them).

    With messageEncoding base64 (the default) the queue stores base64 text, so any bytes can travel, as through
    the Storage SDK's binary encode policy. With "none" the message is stored as text: Azure Storage queues keep
    XML-safe UTF-8, so other bytes are refused here rather than mangled.
    """
    body = sys.stdin.buffer.read() if given == "-" else os.fsencode(given)
    if encoding != "base64":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            source = "Standard input" if given == "-" else "The message"
            raise OvercastError(
                f"{source} is not UTF-8 text (byte 0x{body[exc.start]:02x} at offset {exc.start}); with host.json "
                f"extensions.queues.messageEncoding \"none\" a queue message must be text. Send text, or use "
                f"messageEncoding \"base64\" (the default) to send bytes."
            ) from None
    return body


def _show(message: Any, encoding: str) -> dict[str, Any]:
    from overcast.bindings.queue import decode_body
    from overcast.errors import UndecodableMessage

    try:
        body = decode_body(message.body, encoding)
        text: str = body.decode("utf-8", "replace")
    except UndecodableMessage:
        text = f"<not {encoding}: {message.body[:60]!r}>"
    return {"id": message.id, "dequeueCount": message.dequeue_count,
            "insertionTime": message.insertion_time.isoformat(), "body": text}


def run_queue(args: argparse.Namespace) -> int:
    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        from overcast.bindings.queue import encode_body
        from overcast.triggers.queue import POISON_SUFFIX

        stores = app_stores(args, script_root, environ)
        store = stores.queues
        encoding = _encoding(script_root, environ)
        command = getattr(args, "queue_command", None) or f"poison-{args.poison_command}"
        if command == "send":
            body = _message_body(args.message, encoding)
            message = store.enqueue(args.queue.lower(), encode_body(body, encoding))
            print(message.id)
        elif command == "peek":
            for message in store.peek(args.queue.lower(), args.count):
                print(json.dumps(_show(message, encoding)))
        elif command in ("list", "poison-list"):
            poison_only = command == "poison-list"
            for name, count in sorted(store.list_queues().items()):
                if not poison_only or name.endswith(POISON_SUFFIX):
                    print(f"{name}\t{count}")
        elif command == "clear":
            print(f"Deleted {store.clear(args.queue.lower())} message(s).")
        elif command == "poison-requeue":
            base = args.queue.lower().removesuffix(POISON_SUFFIX)
            moved = 0
            while batch := store.receive(base + POISON_SUFFIX, 32, 60.0):
                for message in batch:
                    assert message.pop_receipt is not None
                    moved += store.move(base + POISON_SUFFIX, message.id, message.pop_receipt, base)
            print(f"Requeued {moved} message(s) from '{base}{POISON_SUFFIX}' to '{base}'.")
        return 0
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
