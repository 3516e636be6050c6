"""SqliteBlobStore: blob properties in ``overcast.db``, content as files under ``blob_root/<container>/``.

Each write goes to a new file with an opaque name (written as ``<id>.tmp``, then renamed), and one transaction
points the blob's row at it; the file the row pointed to before is removed after the commit. So a reader follows
a committed row to a complete file and gets that file's properties with it: never half a blob, never content
and properties of different writes. Opaque names also keep blob names away from the file system: names that only
differ in case (macOS, Windows), a blob "a" next to "a/b", or ".." segments are all fine.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from overcast.backends.base import BlobProperties, Clock, blob_properties, new_etag
from overcast.backends.datadir import PRIVATE_DIR, write_private
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


class SqliteBlobStore(SqliteDatabase):
    """Implements BlobStore. Several processes may share one database and ``blob_root``."""

    kind = "blob store"

    def __init__(self, path: Path, blob_root: Path, clock: Clock = time.time) -> None:
        super().__init__(path, [*SCHEMA, *BLOB_SCHEMA])
        self.blob_root = blob_root
        self._clock = clock

    def _file(self, container: str, file_id: str) -> Path:
        return self.blob_root / container / file_id

    def _write_file(self, container: str, name: str, data: bytes) -> str:
        file_id = uuid.uuid4().hex
        target = self._file(container, file_id)
        temp = target.with_name(file_id + ".tmp")
        try:
            self.blob_root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            target.parent.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            write_private(temp, data)  # blob contents may be as secret as the keys beside them
            os.replace(temp, target)
        except OSError as exc:
            with suppress(OSError):
                temp.unlink()
            raise StoreError(
                f"SQLite blob store: cannot write the content of blob '{container}/{name}' to '{target}': "
                f"{exc.strerror or exc}; check that '{self.blob_root}' is writable and the disk has space."
            ) from exc
        return file_id

    def _remove_file(self, container: str, file_id: str) -> None:
        # Best effort: on Windows a file another thread is reading cannot be removed; it is left behind, unused.
        with suppress(OSError):
            self._file(container, file_id).unlink()

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        validate_container_name(container)
        validate_blob_name(name)
        check_text("Content type", content_type)
        checked = validate_metadata(metadata, name)
        content = bytes(data)
        file_id = self._write_file(container, name, content)
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
                    (container, name, len(content), etag, now, content_type, json.dumps(checked), file_id),
                )
                conn.execute("COMMIT")
        except BaseException:
            self._remove_file(container, file_id)
            raise
        if old is not None:
            self._remove_file(container, str(old[1]))
        return blob_properties(container, name, len(content), etag, now, content_type, checked)

    def _row(self, container: str, name: str, action: str) -> tuple[Any, ...] | None:
        validate_container_name(container)
        validate_blob_name(name)  # also keeps a name the driver cannot encode from escaping as UnicodeEncodeError
        with self._connection(f"{action} blob '{container}/{name}'") as conn:
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_COLUMNS}, file FROM blobs WHERE container = ? AND name = ?", (container, name)
            ).fetchone()
        return row

    def get(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
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
                data = path.read_bytes()  # outside the lock: other threads keep using the store meanwhile
            except FileNotFoundError:
                missing = row[7]  # overwritten or deleted since the row was read: read the row again
                continue
            except OSError as exc:
                raise StoreError(
                    f"SQLite blob store: cannot read '{path}' (blob '{container}/{name}'): {exc.strerror or exc}."
                ) from exc
            if len(data) != row[2]:
                raise StoreError(
                    f"SQLite blob store '{self.path}': the content file '{path}' of blob '{container}/{name}' has "
                    f"{len(data)} bytes instead of {row[2]} (damaged, e.g. by a crash); write the blob again."
                )
            return data, _properties(row)
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
