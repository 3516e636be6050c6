"""SqliteBlobStore: blob properties in ``overcast.db``, content as files under ``blob_root/<container>/``.

Each write goes to a new file with an opaque name (written as ``<id>.tmp``, then renamed), and one transaction
points the blob's row at it; the file the row pointed to before is removed after the commit. So a reader follows
a committed row to a complete file and gets that file's properties with it: never half a blob, never content
and properties of different writes. Opaque names also keep blob names away from the file system: names that only
differ in case (macOS, Windows), a blob "a" next to "a/b", or ".." segments are all fine.

Content is streamed both ways: a write copies its chunks into the new file as they come (a failing iterator
removes the file; the row is untouched), and a reader opens the committed file and reads from it in chunks.
The open file outlives its removal by a later overwrite (POSIX), so the reader sees the version it opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from overcast.backends.base import BlobProperties, Clock, blob_properties, new_etag
from overcast.backends.blob_store import CHUNK, BlobReader, WholeBlobs
from overcast.backends.datadir import PRIVATE_DIR, PRIVATE_FILE
from overcast.backends.names import check_text, validate_blob_name, validate_container_name, validate_metadata
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase, prefix_upper_bound
from overcast.errors import StoreError

BLOB_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS blob_containers (name TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS blobs (container TEXT NOT NULL, name TEXT NOT NULL, length INTEGER NOT NULL, "
    "etag TEXT NOT NULL, last_modified REAL NOT NULL, content_type TEXT NOT NULL, metadata TEXT NOT NULL, "
    "file TEXT NOT NULL, PRIMARY KEY (container, name)) WITHOUT ROWID",
]
_COLUMNS = "container, name, length, etag, last_modified, content_type, metadata"
# A reader that loses the race with an overwrite (its file was just removed) reads the row again; this bounds the
# retries when a blob is overwritten without pause.
_READ_ATTEMPTS = 50


def _properties(row: tuple[Any, ...]) -> BlobProperties:
    container, name, length, etag, last_modified, content_type, metadata = row[:7]
    return blob_properties(container, name, length, etag, last_modified, content_type, json.loads(metadata))


class FileReader(BlobReader):
    """Reads a content file through a handle opened while its row was current."""

    def __init__(self, properties: BlobProperties, file: IO[bytes]) -> None:
        super().__init__(properties)
        self._file = file

    def _chunks(self, start: int, end: int) -> Iterator[bytes]:
        self._file.seek(start)
        at = start
        while at < end:
            data = self._file.read(min(CHUNK, end - at))
            if not data:
                raise StoreError(f"SQLite blob store: the content file of blob '{self.properties.container}/"
                                 f"{self.properties.name}' ended early (damaged); write the blob again.")
            at += len(data)
            yield data

    def _release(self) -> None:
        self._file.close()


class SqliteBlobStore(WholeBlobs, SqliteDatabase):
    """Implements BlobStore. Several processes may share one database and ``blob_root``."""

    kind = "blob store"

    def __init__(self, path: Path, blob_root: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *BLOB_SCHEMA])
        self.blob_root = blob_root
        self._clock = clock

    def _file(self, container: str, file_id: str) -> Path:
        return self.blob_root / container / file_id

    def _write_file(self, container: str, name: str, chunks: Iterable[bytes]) -> tuple[str, int, str]:
        """Copy ``chunks`` into a new content file: (its id, its length, its MD5 in base64). A failure (of the disk
        or of the iterator) removes what was written."""
        file_id = uuid.uuid4().hex
        target = self._file(container, file_id)
        temp = target.with_name(file_id + ".tmp")
        digest = hashlib.md5()
        length = 0
        out: IO[bytes] | None = None
        source_failed = False  # the caller's iterator raised: its own error goes on, not a disk error
        try:
            self.blob_root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            target.parent.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            # Owner-only: blob contents may be as secret as the keys beside them.
            out = os.fdopen(os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE), "wb")
            iterator = iter(chunks)
            while True:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except BaseException:
                    source_failed = True
                    raise
                out.write(chunk)
                digest.update(chunk)
                length += len(chunk)
            out.close()
            os.replace(temp, target)
        except BaseException as exc:
            if out is not None:
                with suppress(OSError):
                    out.close()
            with suppress(OSError):
                temp.unlink()
            if isinstance(exc, OSError) and not source_failed:
                raise StoreError(
                    f"SQLite blob store: cannot write the content of blob '{container}/{name}' to '{target}': "
                    f"{exc.strerror or exc}; check that '{self.blob_root}' is writable and the disk has space."
                ) from exc
            raise
        return file_id, length, base64.b64encode(digest.digest()).decode()

    def _remove_file(self, container: str, file_id: str) -> None:
        # Best effort: on Windows a file another thread is reading cannot be removed; it is left behind, unused.
        with suppress(OSError):
            self._file(container, file_id).unlink()

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:
        validate_container_name(container)
        validate_blob_name(name)
        check_text("Content type", content_type)
        checked = validate_metadata(metadata, name)
        file_id, length, _ = self._write_file(container, name, chunks)  # outside the lock: uploads take time
        try:
            with self._connection(f"write blob '{container}/{name}'") as conn:
                conn.execute("BEGIN IMMEDIATE")
                now = self._clock()
                old = conn.execute(
                    "SELECT etag, file FROM blobs WHERE container = ? AND name = ?", (container, name)
                ).fetchone()
                etag = new_etag()
                while old is not None and etag == old[0]:
                    etag = new_etag()
                conn.execute("INSERT OR IGNORE INTO blob_containers (name) VALUES (?)", (container,))
                conn.execute(
                    "INSERT INTO blobs (container, name, length, etag, last_modified, content_type, metadata, file) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (container, name) DO UPDATE SET "
                    "length = excluded.length, etag = excluded.etag, last_modified = excluded.last_modified, "
                    "content_type = excluded.content_type, metadata = excluded.metadata, file = excluded.file",
                    (container, name, length, etag, now, content_type, json.dumps(checked), file_id),
                )
                conn.execute("COMMIT")
        except BaseException:
            self._remove_file(container, file_id)
            raise
        if old is not None:
            self._remove_file(container, str(old[1]))
        return blob_properties(container, name, length, etag, now, content_type, checked)

    def _row(self, container: str, name: str, action: str) -> tuple[Any, ...] | None:
        validate_container_name(container)
        validate_blob_name(name)  # also keeps a name the driver cannot encode from escaping as UnicodeEncodeError
        with self._connection(f"{action} blob '{container}/{name}'") as conn:
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_COLUMNS}, file FROM blobs WHERE container = ? AND name = ?", (container, name)
            ).fetchone()
        return row

    def open_read(self, container: str, name: str) -> BlobReader | None:
        missing: str | None = None
        for _ in range(_READ_ATTEMPTS):
            row = self._row(container, name, "read")
            if row is None:
                return None
            path = self._file(container, row[7])
            if missing == row[7]:
                raise StoreError(
                    f"SQLite blob store '{self.path}': the content file '{path}' of blob '{container}/{name}' is "
                    f"missing; the blobs folder was changed by hand. Delete the blob or write it again."
                )
            try:
                file = path.open("rb")  # the handle keeps this version readable after an overwrite removes it
            except FileNotFoundError:
                missing = row[7]  # overwritten or deleted since the row was read: read the row again
                continue
            except OSError as exc:
                raise StoreError(
                    f"SQLite blob store: cannot read '{path}' (blob '{container}/{name}'): {exc.strerror or exc}."
                ) from exc
            size = os.fstat(file.fileno()).st_size
            if size != row[2]:
                file.close()
                raise StoreError(
                    f"SQLite blob store '{self.path}': the content file '{path}' of blob '{container}/{name}' has "
                    f"{size} bytes instead of {row[2]} (damaged, e.g. by a crash); write the blob again."
                )
            return FileReader(_properties(row), file)
        raise StoreError(
            f"SQLite blob store '{self.path}': blob '{container}/{name}' changed during each of "
            f"{_READ_ATTEMPTS} reads; retry."
        )

    def properties(self, container: str, name: str) -> BlobProperties | None:
        row = self._row(container, name, "read the properties of")
        return None if row is None else _properties(row)

    def delete(self, container: str, name: str) -> bool:
        validate_container_name(container)
        validate_blob_name(name)
        with self._connection(f"delete blob '{container}/{name}'") as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT file FROM blobs WHERE container = ? AND name = ?", (container, name)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM blobs WHERE container = ? AND name = ?", (container, name))
            conn.execute("COMMIT")
        if row is None:
            return False
        self._remove_file(container, str(row[0]))
        return True

    def containers(self) -> list[str]:
        with self._connection("list containers") as conn:
            rows = conn.execute("SELECT name FROM blob_containers ORDER BY name").fetchall()
        return [str(row[0]) for row in rows]

    # Declared after every method annotated with the builtin list: in the class body "list" names this method.
    def list(self, container: str, prefix: str = "") -> list[BlobProperties]:
        validate_container_name(container)
        upper = prefix_upper_bound(check_text("Blob prefix", prefix))
        query = f"SELECT {_COLUMNS} FROM blobs WHERE container = ? AND name >= ?"
        args: tuple[str, ...] = (container, prefix)
        if upper is not None:
            query += " AND name < ?"
            args += (upper,)
        with self._connection(f"list blobs of container '{container}'") as conn:
            rows = conn.execute(query + " ORDER BY name", args).fetchall()
        return [_properties(row) for row in rows]
