"""MemoryBlobStore: block blobs in a dict; content and properties change together under the lock."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from overcast.backends.base import BlobProperties, blob_properties, new_etag
from overcast.backends.blob_store import BlobReader, BytesReader, WholeBlobs
from overcast.backends.memory.common import Clock, MemoryStore
from overcast.backends.names import check_text, validate_blob_name, validate_container_name, validate_metadata


class MemoryBlobStore(WholeBlobs, MemoryStore):
    """Implements BlobStore. Content is immutable bytes: a reader keeps the version it opened, whatever happens."""

    kind = "blob store"

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._containers: dict[str, dict[str, tuple[bytes, BlobProperties]]] = {}

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:
        validate_container_name(container)
        validate_blob_name(name)
        check_text("Content type", content_type)
        checked = validate_metadata(metadata, name)
        content = b"".join(chunks)  # the memory backend keeps blobs in memory: that is its storage
        with self._open() as now:
            blobs = self._containers.setdefault(container, {})
            old = blobs.get(name)
            etag = new_etag()
            while old is not None and etag == old[1].etag:
                etag = new_etag()
            properties = blob_properties(container, name, len(content), etag, now, content_type, checked)
            blobs[name] = (content, properties)
            return properties

    def _found(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        validate_container_name(container)
        validate_blob_name(name)
        with self._open():
            return self._containers.get(container, {}).get(name)

    def open_read(self, container: str, name: str) -> BlobReader | None:
        found = self._found(container, name)
        return None if found is None else BytesReader(found[1], found[0])

    def properties(self, container: str, name: str) -> BlobProperties | None:
        found = self._found(container, name)
        return None if found is None else found[1]

    def delete(self, container: str, name: str) -> bool:
        validate_container_name(container)
        validate_blob_name(name)
        with self._open():
            return self._containers.get(container, {}).pop(name, None) is not None

    def containers(self) -> list[str]:
        with self._open():
            return sorted(self._containers)

    # Declared after every method annotated with the builtin list: in the class body "list" names this method.
    def list(self, container: str, prefix: str = "") -> list[BlobProperties]:
        validate_container_name(container)
        check_text("Blob prefix", prefix)
        with self._open():
            blobs = self._containers.get(container, {})
            return [blobs[name][1] for name in sorted(blobs) if name.startswith(prefix)]
