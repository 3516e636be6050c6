"""MemoryBlobApiStore: the Blob API store on the in-memory blob store (one lock: each operation is atomic)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from overcast.backends.base import BlobProperties, blob_properties
from overcast.backends.base import new_etag as make_etag
from overcast.backends.blob_api import BlobApi, new_container_doc
from overcast.backends.blob_api_store import Content, Doc, Part
from overcast.backends.changes import HeardInProcess
from overcast.backends.memory.blobs import MemoryBlobStore
from overcast.backends.memory.common import Clock


def _bytes(content: Content) -> bytes:
    assert isinstance(content.ref, bytes), "memory content is its own bytes"
    return content.ref


class _Tx:
    """Implements BlobApiTx on the store's dicts; changes are made in place under the store's lock."""

    def __init__(self, store: MemoryBlobApiStore, now: float) -> None:
        self.store = store
        self.now = now

    def container(self, name: str) -> Doc | None:
        if name not in self.store._containers:
            return None
        doc = self.store._container_docs.get(name)
        if doc is None:
            doc = self.store._container_docs[name] = new_container_doc(self.now)
        return dict(doc)

    def put_container(self, name: str, doc: Doc) -> None:
        self.store._containers.setdefault(name, {})
        self.store._container_docs[name] = dict(doc)

    def drop_container(self, name: str) -> None:
        self.store._containers.pop(name, None)
        self.store._container_docs.pop(name, None)
        for key in [k for k in self.store._blob_docs if k[0] == name]:
            del self.store._blob_docs[key]
        for key in [k for k in self.store._blocks if k[0] == name]:
            del self.store._blocks[key]

    def container_names(self) -> list[str]:
        return sorted(self.store._containers)

    def blob(self, container: str, name: str) -> tuple[BlobProperties, Doc] | None:
        found = self.store._containers.get(container, {}).get(name)
        if found is None:
            return None
        etag, doc = self.store._blob_docs.get((container, name), ("", {}))
        return found[1], (dict(doc) if etag == found[1].etag else {})

    def content(self, container: str, name: str) -> Content | None:
        found = self.store._containers.get(container, {}).get(name)
        return None if found is None else Content(found[0], len(found[0]))

    def compose(self, container: str, parts: Sequence[Part]) -> Content:
        data = b"".join(_bytes(content)[offset:offset + length] for content, offset, length in parts)
        return Content(data, len(data))

    def write(self, container: str, name: str, content: Content | None, content_type: str,
              metadata: Mapping[str, str], doc: Doc, new_etag: bool = True) -> BlobProperties:
        blobs = self.store._containers.setdefault(container, {})
        old = blobs.get(name)
        data = _bytes(content) if content is not None else (old[0] if old is not None else b"")
        keep = old is not None and not new_etag
        etag = old[1].etag if keep and old is not None else make_etag()
        modified = old[1].last_modified.timestamp() if keep and old is not None else self.now
        props = blob_properties(container, name, len(data), etag, modified, content_type, metadata)
        blobs[name] = (data, props)
        self.store._blob_docs[(container, name)] = (etag, dict(doc))
        return props

    def drop_blob(self, container: str, name: str) -> None:
        self.store._containers.get(container, {}).pop(name, None)
        self.store._blob_docs.pop((container, name), None)

    def blobs(self, container: str, prefix: str, after: str, limit: int) -> list[tuple[BlobProperties, Doc]]:
        blobs = self.store._containers.get(container, {})
        names = [n for n in sorted(blobs) if n.startswith(prefix) and n >= after][:limit]
        return [found for n in names if (found := self.blob(container, n)) is not None]

    def stage(self, container: str, name: str, block_id: str, content: Content) -> None:
        staged = self.store._blocks.setdefault((container, name), {})
        staged.pop(block_id, None)  # a block staged again moves to the end, as in SQLite's sequence
        staged[block_id] = content

    def staged(self, container: str, name: str) -> dict[str, Content]:
        return dict(self.store._blocks.get((container, name), {}))

    def unstage(self, container: str, name: str) -> None:
        self.store._blocks.pop((container, name), None)


class MemoryBlobApiStore(BlobApi, MemoryBlobStore, HeardInProcess):
    """Implements BlobApiStore. Changes of a failed operation are not rolled back: every rule is checked before the
    first change (the generic operations check, then write)."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._container_docs: dict[str, Doc] = {}
        self._blob_docs: dict[tuple[str, str], tuple[str, Doc]] = {}
        self._blocks: dict[tuple[str, str], dict[str, Content]] = {}

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        with self._open() as now:
            yield _Tx(self, now)

    @contextmanager
    def upload(self, container: str, name: str, chunks: Iterable[bytes]) -> Iterator[tuple[_Tx, Content]]:
        data = b"".join(chunks)  # memory is this backend's storage; gathered before the lock is taken
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with self.transaction() as tx:
            yield tx, Content(data, len(data), md5)
