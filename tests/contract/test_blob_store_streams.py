"""The BlobStore contract's streaming half: ``write_stream`` and ``open_read``, run against every backend.

Blobs here span several stored chunks (1 MiB), so ranges cross chunk boundaries, a reader outlives an overwrite,
and readers abandoned half-way must give back what they hold (PostgreSQL: a pooled connection; SQLite: a file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.backends import BlobStore
from overcast.backends.blob_store import CHUNK
from overcast.backends.postgresql.blobs import PostgresBlobStore
from overcast.backends.postgresql.streams import STREAMS
from overcast.backends.sqlite.blobs import SqliteBlobStore
from tests.contract import store_helpers
from tests.contract.conftest import Storage

Backend = store_helpers.Backend[BlobStore]
SIZE = 3 * CHUNK + 12_345  # four stored chunks, the last one short


def pattern(size: int, seed: int = 0) -> bytes:
    """Bytes where every offset differs from its neighbours' (a shifted range cannot pass for the right one)."""
    block = bytes((i * 7 + seed) % 251 for i in range(251 * 16))
    return (block * (size // len(block) + 1))[:size]


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    chosen = Backend(storage.name, lambda: storage.backend().open_blobs(), persistent=storage.reopens,
                     child_setup=None)
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.open()


def leftovers(store: BlobStore) -> int:
    """What a backend keeps besides its blobs' current content: PostgreSQL chunk rows of no blob, SQLite content
    files no row names (or temporary ones); 0 for memory."""
    inner = getattr(store, "_inner", store)
    if isinstance(inner, PostgresBlobStore):
        with inner._connection("count orphan chunks") as conn:
            row = conn.execute("SELECT count(*) FROM blob_chunks WHERE content NOT IN (SELECT content FROM blobs)"
                               ).fetchone()
        return int(row[0]) if row else 0
    if isinstance(inner, SqliteBlobStore):
        with inner._connection("list content files") as conn:
            named = {row[0] for row in conn.execute("SELECT file FROM blobs").fetchall()}
        files = [p for p in inner.blob_root.rglob("*") if p.is_file()] if inner.blob_root.exists() else []
        return sum(1 for p in files if p.name not in named)
    return 0


def test_write_stream_takes_chunks_of_any_size(store: BlobStore) -> None:
    data = pattern(SIZE)
    props = store.write_stream("files", "big", pieces(data, 70_001), content_type="text/x", metadata={"k": "v"})
    assert (props.length, props.content_type, dict(props.metadata)) == (SIZE, "text/x", {"k": "v"})
    reader = store.open_read("files", "big")
    assert reader is not None
    assert reader.properties == props
    chunks = list(reader.chunks())
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= CHUNK for chunk in chunks)
    assert store.get("files", "big") == (data, props)


def test_empty_streams_make_empty_blobs(store: BlobStore) -> None:
    props = store.write_stream("files", "empty", iter([]))
    assert props.length == 0
    reader = store.open_read("files", "empty")
    assert reader is not None
    assert list(reader.chunks()) == []
    assert store.open_read("files", "missing") is None


@pytest.mark.parametrize(("offset", "length", "expected"), [
    (0, 1, slice(0, 1)),  # the first byte
    (SIZE - 1, 1, slice(SIZE - 1, SIZE)),  # the last byte
    (SIZE - 1, None, slice(SIZE - 1, SIZE)),  # from the last byte on
    (CHUNK - 3, 6, slice(CHUNK - 3, CHUNK + 3)),  # across a chunk boundary
    (CHUNK, CHUNK, slice(CHUNK, 2 * CHUNK)),  # exactly one stored chunk
    (CHUNK // 2, 2 * CHUNK, slice(CHUNK // 2, CHUNK // 2 + 2 * CHUNK)),  # across two boundaries
    (SIZE - 10, 100, slice(SIZE - 10, SIZE)),  # running past the end: what there is
    (SIZE, 10, slice(SIZE, SIZE)),  # starting at the end: nothing
    (SIZE + 5, None, slice(SIZE, SIZE)),  # starting past the end: nothing
    (123, 0, slice(123, 123)),  # an empty range
])
def test_ranges(store: BlobStore, offset: int, length: int | None, expected: slice) -> None:
    data = pattern(SIZE, seed=3)
    store.write_stream("files", "big", pieces(data, CHUNK // 3))
    reader = store.open_read("files", "big")
    assert reader is not None
    with reader:
        assert reader.read(offset, length) == data[expected]


def test_small_blob_ranges(store: BlobStore) -> None:
    store.put("files", "small", b"0123456789")
    for offset, length, expected in [(0, 1, b"0"), (9, 1, b"9"), (3, None, b"3456789"), (8, 10, b"89"), (10, 1, b"")]:
        reader = store.open_read("files", "small")
        assert reader is not None
        assert reader.read(offset, length) == expected


def test_a_negative_range_is_refused(store: BlobStore) -> None:
    store.put("files", "small", b"0123456789")
    reader = store.open_read("files", "small")
    assert reader is not None
    with reader, pytest.raises(ValueError, match="non-negative"):
        reader.read(-1, 2)


def test_a_read_open_during_an_overwrite_sees_the_version_it_opened(store: BlobStore) -> None:
    old, new = pattern(SIZE, seed=1), pattern(SIZE + CHUNK, seed=2)
    first = store.write_stream("files", "big", pieces(old, CHUNK))
    reader = store.open_read("files", "big")
    assert reader is not None
    chunks = reader.chunks()
    head = next(chunks)  # half-way through the old version ...
    second = store.write_stream("files", "big", pieces(new, CHUNK))  # ... the blob is replaced
    assert head + b"".join(chunks) == old
    assert reader.properties == first
    after = store.open_read("files", "big")
    assert after is not None
    assert (after.read(), after.properties) == (new, second)
    deleted = store.open_read("files", "big")
    assert deleted is not None
    assert store.delete("files", "big")
    assert deleted.read() == new  # a delete, too, leaves an open reader its version
    assert leftovers(store) == 0


def test_abandoned_reads_give_back_what_they_hold(store: BlobStore) -> None:
    """More readers than the PostgreSQL pool's size, each dropped after one chunk or before any: the store keeps
    serving reads and writes, and closes."""
    data = pattern(SIZE)
    store.write_stream("files", "big", pieces(data, CHUNK))
    for i in range(2 * STREAMS + 3):
        reader = store.open_read("files", "big")
        assert reader is not None
        if i % 2:
            chunks = reader.chunks(CHUNK - 1)
            next(chunks)
            chunks.close()  # what a server does when the client disconnects mid-download
        else:
            reader.close()  # opened (the response was prepared) but never read
    inner = getattr(store, "_inner", store)
    if isinstance(inner, PostgresBlobStore):
        assert inner.streams.idle() >= 1
    found = store.open_read("files", "big")
    assert found is not None
    assert found.read() == data
    store.write_stream("files", "big", pieces(data[:10], 3))
    assert store.get("files", "big") is not None
    store.close()


def test_a_failing_stream_leaves_the_old_blob_and_nothing_behind(store: BlobStore) -> None:
    old = pattern(SIZE, seed=4)
    before = store.write_stream("files", "big", pieces(old, CHUNK))

    def broken() -> Iterator[bytes]:
        yield from pieces(pattern(2 * CHUNK + 7, seed=5), 100_000)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError, match="went away"):
        store.write_stream("files", "big", broken())
    with pytest.raises(ConnectionResetError):
        store.write_stream("files", "new", broken())
    assert store.get("files", "big") == (old, before)
    assert store.get("files", "new") is None
    assert leftovers(store) == 0
    if isinstance(store, SqliteBlobStore):
        assert not [p for p in store.blob_root.rglob("*.tmp")]


def test_sqlite_readers_keep_their_file_after_an_overwrite_removes_it(tmp_path: Path) -> None:
    store = SqliteBlobStore(tmp_path / "o.db", tmp_path / "blobs")
    try:
        store.put("files", "a", b"old" * 1000)
        reader = store.open_read("files", "a")
        assert reader is not None
        store.put("files", "a", b"new")
        assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1
        if os.name == "posix":
            assert reader.read() == b"old" * 1000
        reader.close()
    finally:
        store.close()
