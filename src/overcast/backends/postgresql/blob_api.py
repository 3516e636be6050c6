"""PostgresBlobApiStore: the Blob API store on the PostgreSQL blob store (same ``blobs`` rows and chunks).

Extra state in ``blob_api_containers``, ``blob_api_docs`` (a blob's document, kept with the ETag it belongs to) and
``blob_api_blocks`` (a staged block names its content in ``blob_chunks``). Each operation is one transaction
holding a transaction advisory lock on each container it touches, and on each blob it writes under the same key
the blob store's writers take, so an API write and a binding's write of one blob never interleave. An upload (Put
Blob, Put Block, Append Block) inserts its chunks on a connection of its own, then runs the operation's transaction
on it; new content made of ranges of other content is copied by ``INSERT ... SELECT`` inside the server.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from overcast.backends.base import BlobProperties, Clock, blob_properties
from overcast.backends.base import new_etag as make_etag
from overcast.backends.blob_api import BlobApi, new_container_doc
from overcast.backends.blob_api_store import Content, Doc, Part
from overcast.backends.postgresql.blobs import _LOCK, CHANNEL, PostgresBlobStore, insert_chunks
from overcast.backends.postgresql.database import prefix_upper_bound
from overcast.backends.postgresql.notify import NotifyingStore, notify

_COLUMNS = "b.container, b.name, b.length, b.etag, b.last_modified, b.content_type, b.metadata, b.content"
_JOIN = ("FROM blobs b LEFT JOIN blob_api_docs d ON d.container = b.container AND d.name = b.name AND "
         "d.etag = b.etag")


# Copies the chunks of one content that overlap [lo, hi) under another content id, cut to the range, numbered on
# from ``base``; a chunk wholly inside the range is copied as it is.
_COPY_RANGE = (
    "INSERT INTO blob_chunks (content, seq, data) "
    "SELECT %(new)s, %(base)s + row_number() OVER (ORDER BY seq) - 1, CASE WHEN start >= %(lo)s AND "
    "start + size <= %(hi)s THEN data ELSE substring(data FROM (greatest(%(lo)s - start, 0) + 1)::int "
    "FOR (least(start + size, %(hi)s) - greatest(start, %(lo)s))::int) END "
    "FROM (SELECT seq, data, octet_length(data) AS size, "
    "sum(octet_length(data)) OVER (ORDER BY seq) - octet_length(data) AS start "
    "FROM blob_chunks WHERE content = %(src)s) c WHERE start < %(hi)s AND start + size > %(lo)s"
)


def _props(row: Any) -> BlobProperties:
    return blob_properties(row[0], row[1], int(row[2]), row[3], row[4], row[5], json.loads(row[6]))


def _id(content: Content) -> str:
    assert isinstance(content.ref, str), "PostgreSQL content is named by its id"
    return content.ref


class _Tx:
    """Implements BlobApiTx inside one transaction of ``conn``."""

    def __init__(self, conn: Any, now: float) -> None:
        self.conn = conn
        self.now = now
        self._locked: set[str] = set()
        self.fresh: set[str] = set()  # content made in this transaction, removed at its end unless adopted

    def _lock(self, key: str) -> None:
        if key not in self._locked:
            self._locked.add(key)
            self.conn.execute(_LOCK, (key,))

    def container(self, name: str) -> Doc | None:
        self._lock(f"blobapi:{name}")
        if self.conn.execute("SELECT 1 FROM blob_containers WHERE name = %s", (name,)).fetchone() is None:
            return None
        row = self.conn.execute("SELECT doc FROM blob_api_containers WHERE name = %s", (name,)).fetchone()
        if row is not None:
            doc: Doc = json.loads(row[0])
            return doc
        doc = new_container_doc(self.now)
        self.put_container(name, doc)
        return doc

    def put_container(self, name: str, doc: Doc) -> None:
        self._lock(f"blobapi:{name}")
        self.conn.execute("INSERT INTO blob_containers (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
        self.conn.execute("INSERT INTO blob_api_containers (name, doc) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                          "SET doc = excluded.doc", (name, json.dumps(doc)))

    def drop_container(self, name: str) -> None:
        self.conn.execute("DELETE FROM blob_chunks WHERE content IN (SELECT content FROM blobs WHERE container = %s)",
                          (name,))
        self.conn.execute("DELETE FROM blob_chunks WHERE content IN (SELECT content FROM blob_api_blocks WHERE "
                          "container = %s)", (name,))
        for table, column in (("blobs", "container"), ("blob_api_docs", "container"), ("blob_api_blocks", "container"),
                              ("blob_api_containers", "name"), ("blob_containers", "name")):
            self.conn.execute(f"DELETE FROM {table} WHERE {column} = %s", (name,))

    def container_names(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM blob_containers ORDER BY name").fetchall()]

    def _row(self, container: str, name: str) -> Any:
        return self.conn.execute(f"SELECT {_COLUMNS}, d.doc {_JOIN} WHERE b.container = %s AND b.name = %s",
                                 (container, name)).fetchone()

    def blob(self, container: str, name: str) -> tuple[BlobProperties, Doc] | None:
        row = self._row(container, name)
        return None if row is None else (_props(row), json.loads(row[8]) if row[8] else {})

    def content(self, container: str, name: str) -> Content | None:
        row = self._row(container, name)
        return None if row is None else Content(str(row[7]), int(row[2]))

    def compose(self, container: str, parts: Sequence[Part]) -> Content:
        new, base, length = str(uuid.uuid4()), 0, 0
        self.fresh.add(new)
        for content, offset, size in parts:
            if size <= 0:
                continue
            cursor = self.conn.execute(_COPY_RANGE, {"new": new, "base": base, "lo": offset, "hi": offset + size,
                                                     "src": _id(content)})
            base += cursor.rowcount
            length += size
        return Content(new, length)

    def write(self, container: str, name: str, content: Content | None, content_type: str,
              metadata: Mapping[str, str], doc: Doc, new_etag: bool = True) -> BlobProperties:
        self._lock(f"blob:{container}/{name}")
        old = self._row(container, name)
        if content is None:
            ref, length = old[7], int(old[2])
        else:
            ref, length = _id(content), content.length
            self.fresh.discard(ref)
            if old is not None and str(old[7]) != ref:
                self.conn.execute("DELETE FROM blob_chunks WHERE content = %s", (old[7],))
        keep = old is not None and not new_etag
        etag = old[3] if keep else make_etag()
        modified = float(old[4]) if keep else self.now
        self.conn.execute("INSERT INTO blob_containers (name) VALUES (%s) ON CONFLICT DO NOTHING", (container,))
        self.conn.execute(
            "INSERT INTO blobs (container, name, length, etag, last_modified, content_type, metadata, content) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (container, name) DO UPDATE SET "
            "length = excluded.length, etag = excluded.etag, last_modified = excluded.last_modified, "
            "content_type = excluded.content_type, metadata = excluded.metadata, content = excluded.content",
            (container, name, length, etag, modified, content_type, json.dumps(dict(metadata)), ref))
        self.conn.execute(
            "INSERT INTO blob_api_docs (container, name, etag, doc) VALUES (%s, %s, %s, %s) ON CONFLICT "
            "(container, name) DO UPDATE SET etag = excluded.etag, doc = excluded.doc",
            (container, name, etag, json.dumps(doc)))
        notify(self.conn, CHANNEL, container)  # blob triggers of every instance scan the container at commit
        return blob_properties(container, name, length, etag, modified, content_type, metadata)

    def drop_blob(self, container: str, name: str) -> None:
        self._lock(f"blob:{container}/{name}")
        row = self.conn.execute("DELETE FROM blobs WHERE container = %s AND name = %s RETURNING content",
                                (container, name)).fetchone()
        if row is not None:
            self.conn.execute("DELETE FROM blob_chunks WHERE content = %s", (row[0],))
        self.conn.execute("DELETE FROM blob_api_docs WHERE container = %s AND name = %s", (container, name))

    def blobs(self, container: str, prefix: str, after: str, limit: int) -> list[tuple[BlobProperties, Doc]]:
        query = f"SELECT {_COLUMNS}, d.doc {_JOIN} WHERE b.container = %s AND b.name >= %s"
        args: list[Any] = [container, max(prefix, after)]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            query += " AND b.name < %s"
            args.append(upper)
        rows = self.conn.execute(query + " ORDER BY b.name LIMIT %s", (*args, min(limit, 1 << 62))).fetchall()
        return [(_props(row), json.loads(row[8]) if row[8] else {}) for row in rows]

    def stage(self, container: str, name: str, block_id: str, content: Content) -> None:
        self.fresh.discard(_id(content))
        old = self.conn.execute("DELETE FROM blob_api_blocks WHERE container = %s AND name = %s AND block_id = %s "
                                "RETURNING content", (container, name, block_id)).fetchone()
        if old is not None:
            self.conn.execute("DELETE FROM blob_chunks WHERE content = %s", (old[0],))
        self.conn.execute("INSERT INTO blob_api_blocks (container, name, block_id, content, size) "
                          "VALUES (%s, %s, %s, %s, %s)", (container, name, block_id, _id(content), content.length))

    def staged(self, container: str, name: str) -> dict[str, Content]:
        rows = self.conn.execute("SELECT block_id, content, size FROM blob_api_blocks WHERE container = %s AND "
                                 "name = %s ORDER BY seq", (container, name)).fetchall()
        return {row[0]: Content(str(row[1]), int(row[2])) for row in rows}

    def unstage(self, container: str, name: str) -> None:
        self.conn.execute("DELETE FROM blob_chunks WHERE content IN (SELECT content FROM blob_api_blocks WHERE "
                          "container = %s AND name = %s)", (container, name))
        self.conn.execute("DELETE FROM blob_api_blocks WHERE container = %s AND name = %s", (container, name))

    def finish(self) -> None:
        """Remove the content this transaction made and nothing adopted (an upload a refusal did not use)."""
        for ref in self.fresh:
            self.conn.execute("DELETE FROM blob_chunks WHERE content = %s", (ref,))


class PostgresBlobApiStore(BlobApi, PostgresBlobStore, NotifyingStore):
    """Implements BlobApiStore (and BlobStore, on the bindings' rows)."""

    channel = CHANNEL

    def __init__(self, url: str, clock: Clock = time.time) -> None:
        super().__init__(url, clock)

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        with self._connection("run a Blob API operation") as conn:
            conn.execute("BEGIN")  # a failure rolls back in _connection
            tx = _Tx(conn, self._clock())
            yield tx
            tx.finish()
            conn.execute("COMMIT")

    @contextmanager
    def upload(self, container: str, name: str, chunks: Iterable[bytes]) -> Iterator[tuple[_Tx, Content]]:
        # On a connection of its own: the client's pace never holds the store's lock, and a failure anywhere rolls
        # the chunks back with the rest.
        with self.streams.borrowed(f"write blob '{container}/{name}'") as conn:
            conn.execute("BEGIN")
            content = uuid.uuid4()
            length, md5 = insert_chunks(conn, content, chunks)
            tx = _Tx(conn, self._clock())
            tx.fresh.add(str(content))
            yield tx, Content(str(content), length, md5)
            tx.finish()
            conn.execute("COMMIT")
