"""PostgresBlobStore: blob properties in ``blobs``, content in ``blob_chunks`` rows (1 MiB when written here).

Content is stored in chunks so that no single value (and no single protocol message) grows with the blob, and it
streams: a write inserts each chunk as it arrives under a new content id, then points the blob's row at them and
removes the old chunks, all in one transaction (a failing iterator rolls it back: no orphan chunks); a read holds
one REPEATABLE READ snapshot while it fetches the chunks that cover its range, so it sees the old or the new
content with its own properties, never a mix. Chunks are in ``seq`` order and may differ in size (a committed block
list copies its blocks' chunks as they are), so a reader first reads the chunk sizes. Both run on a connection of
their own (:mod:`overcast.backends.postgresql.streams`): a slow client never holds the store's lock. Writers of
one blob take a transaction advisory lock on its name, so two writes at once never leave chunks behind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg

from overcast.backends.base import BlobProperties, Clock, blob_properties, new_etag
from overcast.backends.blob_store import CHUNK, BlobReader, BytesReader, WholeBlobs, rechunk
from overcast.backends.names import check_text, validate_blob_name, validate_container_name, validate_metadata
from overcast.backends.postgresql.database import PostgresDatabase, prefix_upper_bound
from overcast.backends.postgresql.messages import explain
from overcast.backends.postgresql.notify import notify
from overcast.backends.postgresql.streams import StreamConnections
from overcast.errors import StoreError

_COLUMNS = "container, name, length, etag, last_modified, content_type, metadata"
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
CHANNEL = "overcast_blobs"  # NOTIFY'd with the container of each blob written (overcast.backends.changes)


def _properties(row: Sequence[Any]) -> BlobProperties:
    container, name, length, etag, last_modified, content_type, metadata = row[:7]
    return blob_properties(container, name, int(length), etag, last_modified, content_type, json.loads(metadata))


def insert_chunks(conn: Any, content: uuid.UUID, chunks: Iterable[bytes]) -> tuple[int, str]:
    """Store ``chunks`` (re-cut to :data:`CHUNK`) under ``content`` in ``conn``'s open transaction: (length, MD5
    in base64)."""
    digest = hashlib.md5()
    length = 0
    with conn.cursor() as cursor:
        for seq, piece in enumerate(rechunk(chunks)):
            cursor.execute("INSERT INTO blob_chunks (content, seq, data) VALUES (%s, %s, %s)", (content, seq, piece))
            digest.update(piece)
            length += len(piece)
    return length, base64.b64encode(digest.digest()).decode()


def chunk_map(conn: Any, content: Any) -> list[tuple[int, int, int]]:
    """(seq, start offset, size) of each chunk of ``content``; sizes come from the TOAST headers, not the data."""
    rows = conn.execute("SELECT seq, octet_length(data) FROM blob_chunks WHERE content = %s ORDER BY seq",
                        (content,)).fetchall()
    out, start = [], 0
    for seq, size in rows:
        out.append((int(seq), start, int(size)))
        start += int(size)
    return out


def read_range(conn: Any, content: Any, chunks: list[tuple[int, int, int]], start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of ``content``, fetching only the chunks (and parts of chunks) that cover them."""
    for seq, at, size in chunks:
        if at + size <= start or at >= end:
            continue
        lo, hi = max(start, at), min(end, at + size)
        for piece in range(lo, hi, CHUNK):
            row = conn.execute("SELECT substring(data FROM %s FOR %s) FROM blob_chunks WHERE content = %s AND "
                               "seq = %s", (piece - at + 1, min(CHUNK, hi - piece), content, seq)).fetchone()
            if row is None:
                raise StoreError(f"PostgreSQL blob store: chunk {seq} of a blob's content vanished during a read.")
            yield bytes(row[0])


class _SnapshotReader(BlobReader):
    """Reads one content version inside a REPEATABLE READ snapshot held on a borrowed connection."""

    def __init__(self, store: PostgresBlobStore, conn: Any, row: Sequence[Any],
                 chunks: list[tuple[int, int, int]]) -> None:
        super().__init__(_properties(row))
        self._store = store
        self._conn = conn
        self._content = row[7]
        self._map = chunks

    def _chunks(self, start: int, end: int) -> Iterator[bytes]:
        try:
            yield from read_range(self._conn, self._content, self._map, start, end)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL blob store at {self._store.where}: cannot read blob "
                             f"'{self.properties.container}/{self.properties.name}' ({explain(exc)}).") from exc

    def _release(self) -> None:
        self._store.streams.release(self._conn)  # rolls the read-only snapshot back


class PostgresBlobStore(WholeBlobs, PostgresDatabase):
    """Implements BlobStore."""

    kind = "blob store"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock
        self.streams = StreamConnections(url, self.where)

    def close(self) -> None:
        self.streams.close()
        super().close()

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:
        validate_container_name(container)
        validate_blob_name(name)
        check_text("Content type", content_type)
        checked = validate_metadata(metadata, name)
        content = uuid.uuid4()
        with self.streams.borrowed(f"write blob '{container}/{name}'") as conn:
            conn.execute("BEGIN")  # a failing iterator (or anything else) rolls the chunks back on release
            length, _ = insert_chunks(conn, content, chunks)
            conn.execute(_LOCK, (f"blob:{container}/{name}",))
            old = conn.execute(
                "SELECT etag, content FROM blobs WHERE container = %s AND name = %s", (container, name)
            ).fetchone()
            etag = new_etag()
            while old is not None and etag == old[0]:
                etag = new_etag()
            now = self._clock()
            conn.execute("INSERT INTO blob_containers (name) VALUES (%s) ON CONFLICT DO NOTHING", (container,))
            conn.execute(
                "INSERT INTO blobs (container, name, length, etag, last_modified, content_type, metadata, content) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (container, name) DO UPDATE SET "
                "length = excluded.length, etag = excluded.etag, last_modified = excluded.last_modified, "
                "content_type = excluded.content_type, metadata = excluded.metadata, content = excluded.content",
                (container, name, length, etag, now, content_type, json.dumps(checked), content),
            )
            if old is not None:
                conn.execute("DELETE FROM blob_chunks WHERE content = %s", (old[1],))
            notify(conn, CHANNEL, container)
            conn.execute("COMMIT")
        return blob_properties(container, name, length, etag, now, content_type, checked)

    def open_read(self, container: str, name: str) -> BlobReader | None:
        validate_container_name(container)
        validate_blob_name(name)
        query = f"SELECT {_COLUMNS}, content FROM blobs WHERE container = %s AND name = %s"
        with self._connection(f"read blob '{container}/{name}'") as conn:
            # A blob of one chunk is read at once on the store's connection, in one snapshot.
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute(query, (container, name)).fetchone()
            small = None
            if row is not None and int(row[2]) <= CHUNK:
                parts = conn.execute("SELECT data FROM blob_chunks WHERE content = %s ORDER BY seq",
                                     (row[7],)).fetchall()
                small = BytesReader(_properties(row), b"".join(bytes(part[0]) for part in parts))
            conn.execute("COMMIT")
        if row is None or small is not None:
            return small
        conn = self.streams.acquire(f"read blob '{container}/{name}'")
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute(query, (container, name)).fetchone()
            if row is None:  # deleted meanwhile
                self.streams.release(conn)
                return None
            return _SnapshotReader(self, conn, row, chunk_map(conn, row[7]))
        except psycopg.Error as exc:
            self.streams.release(conn)
            raise StoreError(f"PostgreSQL blob store at {self.where}: cannot read blob '{container}/{name}' "
                             f"({explain(exc)}).") from exc
        except BaseException:
            self.streams.release(conn)
            raise

    def properties(self, container: str, name: str) -> BlobProperties | None:
        validate_container_name(container)
        validate_blob_name(name)
        with self._connection(f"read the properties of blob '{container}/{name}'") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM blobs WHERE container = %s AND name = %s", (container, name)
            ).fetchone()
        return None if row is None else _properties(row)

    def delete(self, container: str, name: str) -> bool:
        validate_container_name(container)
        validate_blob_name(name)
        with self._connection(f"delete blob '{container}/{name}'") as conn:
            conn.execute("BEGIN")
            conn.execute(_LOCK, (f"blob:{container}/{name}",))
            row = conn.execute(
                "DELETE FROM blobs WHERE container = %s AND name = %s RETURNING content", (container, name)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM blob_chunks WHERE content = %s", (row[0],))
            conn.execute("COMMIT")
        return row is not None

    def containers(self) -> list[str]:
        with self._connection("list containers") as conn:
            rows = conn.execute("SELECT name FROM blob_containers ORDER BY name").fetchall()
        return [str(row[0]) for row in rows]

    # Declared after every method annotated with the builtin list: in the class body "list" names this method.
    def list(self, container: str, prefix: str = "") -> list[BlobProperties]:
        validate_container_name(container)
        upper = prefix_upper_bound(check_text("Blob prefix", prefix))
        query = f"SELECT {_COLUMNS} FROM blobs WHERE container = %s AND name >= %s"
        args: tuple[str, ...] = (container, prefix)
        if upper is not None:
            query += " AND name < %s"
            args += (upper,)
        with self._connection(f"list blobs of container '{container}'") as conn:
            rows = conn.execute(query + " ORDER BY name", args).fetchall()
        return [_properties(row) for row in rows]
