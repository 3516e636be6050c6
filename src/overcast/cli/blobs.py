"""``overcast blob``: the app's blobs in the embedded store, while the host runs or not.

A running host's blob triggers notice blobs written here at their next container scan (every 2 s by default).
Contents stream in 1 MiB chunks between the store and files or standard input/output: a blob of any size is
never whole in memory.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from overcast.cli.common import app_environment, app_stores, location_options, script_root_for
from overcast.errors import OvercastError


def add_blob_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    blob = subparsers.add_parser("blob", help="put, get, list and delete blobs")
    location_options(blob)
    verbs = blob.add_subparsers(dest="blob_command", metavar="COMMAND", required=True)
    put = verbs.add_parser("put", help="upload a file, a folder (every file under it) or standard input ('-')")
    put.add_argument("path", help="container/blob name (for a folder: container or container/prefix)")
    put.add_argument("source", help="a file, a folder, or '-' for standard input")
    put.add_argument("--content-type", default=None, help="default: guessed from the name")
    get = verbs.add_parser("get", help="write a blob's content to standard output or a file")
    get.add_argument("path", help="container/blob name")
    get.add_argument("-o", "--output", type=Path, default=None, help="write to this file instead")
    listing = verbs.add_parser("list", help="containers, or the blobs of one container")
    listing.add_argument("container", nargs="?", default=None,
                         help="container, or container/prefix for the blobs whose name starts with prefix")
    listing.add_argument("--json", action="store_true", help="one JSON object per blob")
    delete = verbs.add_parser("delete", help="delete a blob")
    delete.add_argument("path", help="container/blob name")
    for verb in (put, get, listing, delete):
        location_options(verb)


def _split(path: str, *, name_required: bool = True) -> tuple[str, str]:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise OvercastError(f"The blob path {os.fsencode(path)!r} is not UTF-8 text.") from None
    container, _, name = path.partition("/")
    if not container or (name_required and not name):
        raise OvercastError(f"'{path}' is not a blob path; write it as container/blob name (e.g. samples/a.csv).")
    return container, name


CHUNK = 1 << 20


def _chunks(source: IO[bytes], label: str) -> Iterator[bytes]:
    """``source`` in 1 MiB pieces (a read error fails the upload: the store keeps the blob as it was)."""
    while True:
        try:
            data = source.read(CHUNK)
        except OSError as exc:
            raise OvercastError(f"Cannot read '{label}': {exc.strerror or exc}.") from exc
        if not data:
            return
        yield data


def _upload(store: Any, container: str, name: str, source: str | Path, content_type: str) -> Any:
    if source == "-":
        return store.write_stream(container, name, _chunks(sys.stdin.buffer, "standard input"),
                                  content_type=content_type)
    try:
        with Path(source).open("rb") as file:
            return store.write_stream(container, name, _chunks(file, str(source)), content_type=content_type)
    except OSError as exc:  # opening it (reads fail inside _chunks, stores raise StoreError)
        raise OvercastError(f"Cannot read '{source}': {exc.strerror or exc}.") from exc


def _download(store: Any, path: str, output: Path | None) -> None:
    reader = store.open_read(*_split(path))
    if reader is None:
        raise OvercastError(f"There is no blob '{path}'. `overcast blob list <container>` lists them.")
    with reader:
        if output is None:
            for chunk in reader.chunks():
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            return
        partial = output.with_name(output.name + ".part")  # the file appears whole or not at all
        try:
            with partial.open("wb") as out:
                for chunk in reader.chunks():
                    out.write(chunk)
            os.replace(partial, output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise OvercastError(f"Cannot write '{output}': {exc.strerror or exc}.") from exc


def _utf8_name(name: str, file: Path) -> str:
    # A file name that is not UTF-8 reaches Python with surrogate escapes, which no blob name may hold.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise OvercastError(
            f"The file name {os.fsencode(file)!r} is not UTF-8, so it cannot be a blob name; rename the file."
        ) from None
    return name


def _content_type(name: str, given: str | None) -> str:
    return given or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _put(store: Any, args: argparse.Namespace) -> None:
    source = args.source
    if source != "-" and Path(source).is_dir():
        container, prefix = _split(args.path, name_required=False)
        files = sorted(p for p in Path(source).rglob("*") if p.is_file())
        for file in files:
            name = "/".join(part for part in (prefix.rstrip("/"), file.relative_to(source).as_posix()) if part)
            _upload(store, container, _utf8_name(name, file), file, _content_type(name, args.content_type))
            print(f"{container}/{name}")
        print(f"Uploaded {len(files)} file(s).", file=sys.stderr)
        return
    container, name = _split(args.path)
    props = _upload(store, container, name, source, _content_type(name, args.content_type))
    print(f"{container}/{name}\t{props.length} bytes\t{props.etag}")


def run_blob(args: argparse.Namespace) -> int:
    try:
        script_root = script_root_for(args)
        environ = app_environment(script_root)
        stores = app_stores(args, script_root, environ)
        store = stores.blobs
        try:
            command = args.blob_command
            if command == "put":
                _put(store, args)
            elif command == "get":
                _download(store, args.path, args.output)
            elif command == "list":
                if args.container is None:
                    for container in store.containers():
                        print(container)
                container, _, prefix = (args.container or "").partition("/")
                for props in store.list(container, prefix) if container else []:
                    if args.json:
                        print(json.dumps({"name": props.name, "length": props.length, "etag": props.etag,
                                          "lastModified": props.last_modified.isoformat(),
                                          "contentType": props.content_type}))
                    else:
                        print(f"{props.name}\t{props.length}\t{props.last_modified.isoformat()}")
            elif command == "delete":
                if not store.delete(*_split(args.path)):
                    raise OvercastError(f"There is no blob '{args.path}'.")
                print(f"Deleted {args.path}.")
        finally:
            stores.close()
        return 0
    except OvercastError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
