"""Block blobs as the bindings and blob triggers use them: :class:`BlobStore` and its value types.

Content moves in chunks: :meth:`BlobStore.write_stream` takes an iterable of chunks and commits at the end,
:meth:`BlobStore.open_read` gives the properties of one content version and a :class:`BlobReader` over its bytes
(or a range of them), so no blob is ever whole in memory. ``put`` and ``get`` are conveniences on those two
(:class:`WholeBlobs`) for callers that hand functions whole bytes.

Re-exported by :mod:`overcast.backends.base` (their historical home); a module of its own so that the Blob API
store (:mod:`overcast.backends.blob_api_store`), which extends it, and ``base``, which names that store, do not
import each other.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Protocol

CHUNK = 1 << 20  # the unit content moves in: a read yields, and a write stores, at most this many bytes at once


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def new_etag() -> str:
    """A quoted hex ETag shaped like Azure's (``"0x8DC1A2B3C4D5E6F"``), random so that every write differs."""
    return f'"0x8D{secrets.token_hex(7)[:13].upper()}"'


@dataclass(frozen=True)
class BlobProperties:
    container: str
    name: str
    length: int
    etag: str  # quoted, like the ETag header: '"0x8DC..."'; new on every write
    last_modified: datetime  # tz-aware UTC
    content_type: str
    metadata: Mapping[str, str]  # read-only


def blob_properties(container: str, name: str, length: int, etag: str, last_modified: float, content_type: str,
                    metadata: Mapping[str, str]) -> BlobProperties:
    return BlobProperties(container, name, length, etag, utc(last_modified), content_type,
                          MappingProxyType(dict(metadata)))


def as_chunks(chunks: Iterable[bytes] | bytes) -> Iterable[bytes]:
    """``chunks``, or one chunk when given bytes (iterating bytes would give ints)."""
    return (bytes(chunks),) if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks


def rechunk(chunks: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of ``chunks`` again, in pieces of exactly ``size`` bytes (the last one shorter, none empty)."""
    pending = bytearray()
    for chunk in chunks:
        view = memoryview(chunk)
        while len(pending) + len(view) >= size:
            cut = size - len(pending)
            if pending:
                pending += view[:cut]
                yield bytes(pending)
                pending.clear()
            else:
                yield view[:cut].tobytes()
            view = view[cut:]
        pending += view
    if pending:
        yield bytes(pending)


def clamp_range(length: int, offset: int, count: int | None) -> tuple[int, int]:
    """``[start, end)`` of the bytes ``offset`` .. ``offset + count`` that a blob of ``length`` bytes has."""
    if offset < 0 or (count is not None and count < 0):
        raise ValueError(f"A blob range needs a non-negative offset and length, not ({offset}, {count}).")
    start = min(offset, length)
    return start, length if count is None else min(length, start + count)


class BlobReader:
    """One content version of a blob: its ``properties`` and its bytes as chunks, whole or a range.

    It holds what keeps that version readable (a database snapshot, an open file) until it is closed; the iterator
    :meth:`chunks` returns closes it when it is exhausted or closed early (a client that went away), and ``with``
    closes it too. Closing twice is harmless. Backends implement ``_chunks`` and ``_release``.
    """

    def __init__(self, properties: BlobProperties) -> None:
        self.properties = properties
        self._closed = False
        self._close_lock = threading.Lock()

    def chunks(self, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Bytes ``offset`` .. ``offset + length`` (clamped to the blob; the rest when ``length`` is None) in
        chunks of at most :data:`CHUNK` bytes, reading only the stored chunks that cover the range."""
        start, end = clamp_range(self.properties.length, offset, length)
        try:
            if start < end:
                yield from self._chunks(start, end)
        finally:
            self.close()

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """The range as one bytes object (for callers that need it whole, such as bindings)."""
        return b"".join(self.chunks(offset, length))

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _chunks(self, start: int, end: int) -> Iterator[bytes]:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _release(self) -> None:
        """Give back the snapshot / file (nothing to do for immutable bytes)."""


class BytesReader(BlobReader):
    """A reader over bytes already in memory (the memory backend's immutable content; a one-chunk blob)."""

    def __init__(self, properties: BlobProperties, data: bytes) -> None:
        super().__init__(properties)
        self._data = data

    def _chunks(self, start: int, end: int) -> Iterator[bytes]:
        view = memoryview(self._data)
        for at in range(start, end, CHUNK):
            yield view[at:min(end, at + CHUNK)].tobytes()


class BlobStore(Protocol):
    """Block blobs, written and read in chunks. A reader sees either the old or the new content whole, never a
    mix, even while a writer replaces it."""

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:
        """Create or overwrite (creating the container) with the bytes of ``chunks``, consumed as they come and
        committed at the end: an iterator that fails leaves the old blob as it was and nothing behind."""
        ...

    def open_read(self, container: str, name: str) -> BlobReader | None:
        """A reader of the current content and its properties (close it, or exhaust its chunks); None when the
        blob does not exist."""
        ...

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        """Create or overwrite (creating the container); a new ETag and last-modified time every time."""
        ...

    def get(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        """Content and the properties of that very content; None when the blob does not exist."""
        ...

    def properties(self, container: str, name: str) -> BlobProperties | None: ...

    def delete(self, container: str, name: str) -> bool:
        """False when the blob did not exist."""
        ...

    def containers(self) -> list[str]:
        """Every container, sorted."""
        ...

    # Declared after every method annotated with the builtin list: in the class body "list" names this method.
    def list(self, container: str, prefix: str = "") -> list[BlobProperties]:
        """Blobs whose name starts with ``prefix`` (literal; '/' is an ordinary character), ordered by name."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...


class WholeBlobs:
    """``put`` and ``get`` of whole bytes on a store's ``write_stream`` and ``open_read``: one code path."""

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:  # pragma: no cover - overridden
        raise NotImplementedError

    def open_read(self, container: str, name: str) -> BlobReader | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        view = memoryview(data)
        pieces = (view[at:at + CHUNK].tobytes() for at in range(0, len(view), CHUNK))
        return self.write_stream(container, name, pieces, content_type=content_type, metadata=metadata)

    def get(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        reader = self.open_read(container, name)
        if reader is None:
            return None
        with reader:
            return reader.read(), reader.properties
