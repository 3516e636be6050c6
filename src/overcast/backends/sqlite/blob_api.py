"""SqliteBlobApiStore: the Blob API store on the SQLite blob store (same ``blobs`` rows and content files).

Extra state in three tables of ``overcast.db``: a container's document, a blob's document (kept with the ETag it
belongs to: a binding's later overwrite makes it stale, and the blob then reads as a plain block blob), and staged
blocks, each a content file of its own (``blob_api_staged``). Each operation is one ``BEGIN IMMEDIATE``
transaction; content files are written before the row points at them (an upload before the transaction starts)
and old files removed after the commit, as in :mod:`overcast.backends.sqlite.blobs`. New content made of ranges
of other content (a block list, an append, a copy) is copied file to file in 1 MiB buffers.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from overcast.backends.base import BlobProperties, Clock, blob_properties
from overcast.backends.base import new_etag as make_etag
from overcast.backends.blob_api import BlobApi, new_container_doc
from overcast.backends.blob_api_store import Content, Doc, Part
from overcast.backends.blob_store import CHUNK
from overcast.backends.changes import HeardInProcess
from overcast.backends.sqlite.blobs import SqliteBlobStore
from overcast.backends.sqlite.state import prefix_upper_bound
from overcast.errors import StoreError

BLOB_API_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS blob_api_containers (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS blob_api_docs (container TEXT NOT NULL, name TEXT NOT NULL, etag TEXT NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (container, name))",
    # Staged blocks of older versions, moved to blob_api_staged (and files) when the store opens.
    "CREATE TABLE IF NOT EXISTS blob_api_blocks (container TEXT NOT NULL, name TEXT NOT NULL, block_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (container, name, block_id))",
    "CREATE TABLE IF NOT EXISTS blob_api_staged (container TEXT NOT NULL, name TEXT NOT NULL, block_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (container, name, block_id))",
]
_COLUMNS = "b.container, b.name, b.length, b.etag, b.last_modified, b.content_type, b.metadata, b.file"


def _props(row: tuple[Any, ...]) -> BlobProperties:
    return blob_properties(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))


def _file_of(content: Content) -> tuple[str, str]:
    """(container, file id) of a content's ``<container>/<file>`` ref."""
    assert isinstance(content.ref, str), "SQLite content is named by its file"
    container, _, file = content.ref.partition("/")
    return container, file


class _Tx:
    """One transaction's view (implements BlobApiTx); files to remove once it commits, or if it fails."""

    def __init__(self, store: SqliteBlobApiStore, conn: sqlite3.Connection, now: float) -> None:
        self.store = store
        self.conn = conn
        self.now = now
        self.obsolete: list[tuple[str, str]] = []
        self.written: list[tuple[str, str]] = []  # removed if the transaction fails, or if nothing adopted them
        self.adopted: set[tuple[str, str]] = set()  # written files a blob or a staged block now names
        self.dropped_dirs: list[str] = []

    def container(self, name: str) -> Doc | None:
        if self.conn.execute("SELECT 1 FROM blob_containers WHERE name = ?", (name,)).fetchone() is None:
            return None
        row = self.conn.execute("SELECT doc FROM blob_api_containers WHERE name = ?", (name,)).fetchone()
        if row is not None:
            doc: Doc = json.loads(row[0])
            return doc
        doc = new_container_doc(self.now)  # made by a binding's write: its properties from now on
        self.put_container(name, doc)
        return doc

    def put_container(self, name: str, doc: Doc) -> None:
        self.conn.execute("INSERT OR IGNORE INTO blob_containers (name) VALUES (?)", (name,))
        self.conn.execute("INSERT INTO blob_api_containers (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                          "SET doc = excluded.doc", (name, json.dumps(doc)))

    def drop_container(self, name: str) -> None:
        for (file,) in self.conn.execute("SELECT file FROM blobs WHERE container = ?", (name,)).fetchall():
            self.obsolete.append((name, file))
        for table, column in (("blobs", "container"), ("blob_api_docs", "container"), ("blob_api_staged", "container"),
                              ("blob_api_containers", "name"), ("blob_containers", "name")):
            self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
        self.dropped_dirs.append(name)

    def container_names(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM blob_containers ORDER BY name").fetchall()]

    def _row(self, container: str, name: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(
            f"SELECT {_COLUMNS}, d.doc FROM blobs b LEFT JOIN blob_api_docs d ON d.container = b.container AND "
            "d.name = b.name AND d.etag = b.etag WHERE b.container = ? AND b.name = ?", (container, name)).fetchone()
        return row

    def blob(self, container: str, name: str) -> tuple[BlobProperties, Doc] | None:
        row = self._row(container, name)
        return None if row is None else (_props(row), json.loads(row[8]) if row[8] else {})

    def content(self, container: str, name: str) -> Content | None:
        row = self._row(container, name)
        return None if row is None else Content(f"{container}/{row[7]}", int(row[2]))

    def _ranges(self, parts: Sequence[Part]) -> Iterator[bytes]:
        for content, offset, length in parts:
            container, file = _file_of(content)
            path = self.store._file(container, file)
            try:
                with path.open("rb") as source:
                    source.seek(offset)
                    left = length
                    while left > 0:
                        data = source.read(min(CHUNK, left))
                        if not data:
                            raise StoreError(f"SQLite blob store: the content file '{path}' ended early (damaged).")
                        left -= len(data)
                        yield data
            except OSError as exc:
                raise StoreError(f"SQLite blob store: cannot read '{path}': {exc.strerror or exc}.") from exc

    def compose(self, container: str, parts: Sequence[Part]) -> Content:
        file, length, _ = self.store._write_file(container, "(composed)", self._ranges(parts))
        self.written.append((container, file))
        return Content(f"{container}/{file}", length)

    def write(self, container: str, name: str, content: Content | None, content_type: str,
              metadata: Mapping[str, str], doc: Doc, new_etag: bool = True) -> BlobProperties:
        fresh = new_etag
        old = self._row(container, name)
        if content is None:
            if old is None:
                raise StoreError(f"Blob '{container}/{name}' vanished during its update.")
            file, length = old[7], old[2]
        else:
            _, file = _file_of(content)
            length = content.length
            self.adopted.add((container, file))
            if old is not None and old[7] != file:
                self.obsolete.append((container, old[7]))
        etag = old[3] if old is not None and not fresh else make_etag()
        modified = old[4] if old is not None and not fresh else self.now
        self.conn.execute("INSERT OR IGNORE INTO blob_containers (name) VALUES (?)", (container,))
        self.conn.execute(
            "INSERT INTO blobs (container, name, length, etag, last_modified, content_type, metadata, file) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (container, name) DO UPDATE SET length = excluded.length, "
            "etag = excluded.etag, last_modified = excluded.last_modified, content_type = excluded.content_type, "
            "metadata = excluded.metadata, file = excluded.file",
            (container, name, length, etag, modified, content_type, json.dumps(dict(metadata)), file))
        self.conn.execute(
            "INSERT INTO blob_api_docs (container, name, etag, doc) VALUES (?, ?, ?, ?) ON CONFLICT (container, name) "
            "DO UPDATE SET etag = excluded.etag, doc = excluded.doc", (container, name, etag, json.dumps(doc)))
        return blob_properties(container, name, length, etag, modified, content_type, metadata)

    def drop_blob(self, container: str, name: str) -> None:
        row = self._row(container, name)
        if row is not None:
            self.obsolete.append((container, row[7]))
        self.conn.execute("DELETE FROM blobs WHERE container = ? AND name = ?", (container, name))
        self.conn.execute("DELETE FROM blob_api_docs WHERE container = ? AND name = ?", (container, name))

    def blobs(self, container: str, prefix: str, after: str, limit: int) -> list[tuple[BlobProperties, Doc]]:
        query = (f"SELECT {_COLUMNS}, d.doc FROM blobs b LEFT JOIN blob_api_docs d ON d.container = b.container AND "
                 "d.name = b.name AND d.etag = b.etag WHERE b.container = ? AND b.name >= ?")
        args: list[Any] = [container, max(prefix, after)]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            query += " AND b.name < ?"
            args.append(upper)
        rows = self.conn.execute(query + " ORDER BY b.name LIMIT ?", (*args, min(limit, 1 << 62))).fetchall()
        return [(_props(row), json.loads(row[8]) if row[8] else {}) for row in rows]

    def stage(self, container: str, name: str, block_id: str, content: Content) -> None:
        _, file = _file_of(content)
        self.adopted.add((container, file))
        row = self.conn.execute("SELECT file FROM blob_api_staged WHERE container = ? AND name = ? AND block_id = ?",
                                (container, name, block_id)).fetchone()
        if row is not None:
            self.obsolete.append((container, row[0]))
        self.conn.execute(
            "INSERT INTO blob_api_staged (container, name, block_id, seq, file, size) VALUES (?, ?, ?, "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM blob_api_staged WHERE container = ? AND name = ?), ?, ?) "
            "ON CONFLICT (container, name, block_id) DO UPDATE SET file = excluded.file, size = excluded.size, "
            "seq = excluded.seq", (container, name, block_id, container, name, file, content.length))

    def staged(self, container: str, name: str) -> dict[str, Content]:
        rows = self.conn.execute("SELECT block_id, file, size FROM blob_api_staged WHERE container = ? AND name = ? "
                                 "ORDER BY seq", (container, name)).fetchall()
        return {row[0]: Content(f"{container}/{row[1]}", int(row[2])) for row in rows}

    def unstage(self, container: str, name: str) -> None:
        for (file,) in self.conn.execute("SELECT file FROM blob_api_staged WHERE container = ? AND name = ?",
                                         (container, name)).fetchall():
            self.obsolete.append((container, file))
        self.conn.execute("DELETE FROM blob_api_staged WHERE container = ? AND name = ?", (container, name))


class SqliteBlobApiStore(BlobApi, SqliteBlobStore, HeardInProcess):
    """Implements BlobApiStore (and BlobStore, on the same rows as the bindings' SqliteBlobStore)."""

    def __init__(self, path: Path, blob_root: Path, clock: Clock = time.time) -> None:
        super().__init__(path, blob_root, clock)
        with self._connection("prepare the Blob API tables") as conn:
            for statement in BLOB_API_SCHEMA:
                conn.execute(statement)
        self._move_old_staged_blocks()

    def _move_old_staged_blocks(self) -> None:
        """Staged blocks an older version kept in ``blob_api_blocks`` become content files (usually none)."""
        with self._connection("move staged blocks to files") as conn:
            rows = conn.execute("SELECT container, name, block_id FROM blob_api_blocks").fetchall()
        for container, name, block_id in rows:
            with self.transaction() as tx:
                found = tx.conn.execute("SELECT data FROM blob_api_blocks WHERE container = ? AND name = ? AND "
                                        "block_id = ?", (container, name, block_id)).fetchone()
                if found is None:
                    continue
                file, length, _ = self._write_file(container, name, (bytes(found[0]),))
                tx.written.append((container, file))
                tx.stage(container, name, block_id, Content(f"{container}/{file}", length))
                tx.conn.execute("DELETE FROM blob_api_blocks WHERE container = ? AND name = ? AND block_id = ?",
                                (container, name, block_id))

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        with self._connection("run a Blob API operation") as conn:
            conn.execute("BEGIN IMMEDIATE")
            tx = _Tx(self, conn, self._clock())
            try:
                yield tx
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for container, file in tx.written:
                    self._remove_file(container, file)
                raise
        for container, file in [*tx.obsolete, *(w for w in tx.written if w not in tx.adopted)]:
            self._remove_file(container, file)
        for container in tx.dropped_dirs:
            with suppress(OSError):
                shutil.rmtree(self.blob_root / container)

    @contextmanager
    def upload(self, container: str, name: str, chunks: Iterable[bytes]) -> Iterator[tuple[_Tx, Content]]:
        file, length, md5 = self._write_file(container, name, chunks)  # before the write lock: uploads take time
        try:
            with self.transaction() as tx:
                tx.written.append((container, file))
                yield tx, Content(f"{container}/{file}", length, md5)
        except BaseException:
            self._remove_file(container, file)
            raise
