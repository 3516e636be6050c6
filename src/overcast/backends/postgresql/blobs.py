"""PostgresBlobStore: blob properties in ``blobs``, content in ``blob_chunks`` rows of at most 1 MiB.

Content is stored in chunks so that no single value (and no single protocol message) grows with the blob: a write
sends it chunk by chunk, a read fetches it chunk by chunk. Each write puts its chunks under a new content id and
points the blob's row at them in the same transaction, removing the old chunks; a read runs in one REPEATABLE READ
snapshot, so it sees the old or the new content with its own properties, never a mix. Writers of one blob take a
transaction advisory lock on its name, so two writes at once never leave chunks behind.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from overcast.backends.base import BlobProperties, Clock, blob_properties, new_etag
from overcast.backends.names import check_text, validate_blob_name, validate_container_name, validate_metadata
from overcast.backends.postgresql.database import PostgresDatabase, prefix_upper_bound
from overcast.backends.postgresql.notify import notify

CHUNK = 1 << 20
_COLUMNS = "container, name, length, etag, last_modified, content_type, metadata"
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
CHANNEL = "overcast_blobs"  # NOTIFY'd with the container of each blob written (overcast.backends.changes)


def _properties(row: Sequence[Any]) -> BlobProperties:
    container, name, length, etag, last_modified, content_type, metadata = row[:7]
    return blob_properties(container, name, int(length), etag, last_modified, content_type, json.loads(metadata))


class PostgresBlobStore(PostgresDatabase):
    """Implements BlobStore."""

    kind = "blob store"

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url)
        self._clock = clock

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        validate_container_name(container)
        validate_blob_name(name)
        check_text("Content type", content_type)
        checked = validate_metadata(metadata, name)
        view = memoryview(bytes(data))
        content = uuid.uuid4()
        with self._connection(f"write blob '{container}/{name}'") as conn:
            conn.execute("BEGIN")
            conn.execute(_LOCK, (f"blob:{container}/{name}",))
            with conn.cursor() as cursor:
                # Chunk by chunk: never a statement as large as the blob.
                for seq, start in enumerate(range(0, max(len(view), 1), CHUNK)):
                    cursor.execute("INSERT INTO blob_chunks (content, seq, data) VALUES (%s, %s, %s)",
                                   (content, seq, view[start:start + CHUNK].tobytes()))
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
                (container, name, len(view), etag, now, content_type, json.dumps(checked), content),
            )
            if old is not None:
                conn.execute("DELETE FROM blob_chunks WHERE content = %s", (old[1],))
            notify(conn, CHANNEL, container)
            conn.execute("COMMIT")
        return blob_properties(container, name, len(view), etag, now, content_type, checked)

    def get(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        validate_container_name(container)
        validate_blob_name(name)
        with self._connection(f"read blob '{container}/{name}'") as conn:
            # One snapshot: the row and the chunks it names, even while a writer replaces them.
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute(
                f"SELECT {_COLUMNS}, content FROM blobs WHERE container = %s AND name = %s", (container, name)
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            data = bytearray()
            with conn.cursor() as cursor:  # chunk by chunk: the result set never holds the blob twice
                for seq in range((int(row[2]) + CHUNK - 1) // CHUNK):
                    cursor.execute("SELECT data FROM blob_chunks WHERE content = %s AND seq = %s", (row[7], seq))
                    found = cursor.fetchone()
                    if found is not None:
                        data += found[0]
            conn.execute("COMMIT")
        return bytes(data), _properties(row)

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
