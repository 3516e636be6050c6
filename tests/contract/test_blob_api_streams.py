"""The BlobApiStore contract's streaming half, on every backend: uploads as chunk iterators, staged blocks and
block lists of several MiB composed inside the store, copies and appends, ranged reads of one version, and
failures that leave the old blob and nothing else behind."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest

from overcast.backends.blob_api_store import BlobApiStore, BlobWrite, Conditions, ContentHeaders
from overcast.backends.blob_store import CHUNK
from overcast.backends.postgresql.blobs import PostgresBlobStore
from overcast.backends.sqlite.blobs import SqliteBlobStore
from overcast.errors import BlobApiRefusal
from tests.contract.conftest import Storage
from tests.contract.test_blob_store_streams import pattern, pieces

NONE = Conditions()
BLOCK = CHUNK + CHUNK // 2  # blocks that do not line up with stored chunks


@pytest.fixture
def api(storage: Storage) -> Iterator[BlobApiStore]:
    store = storage.backend().open_blob_api()
    store.create_container("cnt", {}, "")
    yield store
    store.close()


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def leftovers(api: BlobApiStore) -> int:
    """Stored content neither a blob nor a staged block names (PostgreSQL chunk rows, SQLite files)."""
    if isinstance(api, PostgresBlobStore):
        with api._connection("count orphan chunks") as conn:
            row = conn.execute("SELECT count(*) FROM blob_chunks WHERE content NOT IN (SELECT content FROM blobs) "
                               "AND content NOT IN (SELECT content FROM blob_api_blocks)").fetchone()
        return int(row[0]) if row else 0
    if isinstance(api, SqliteBlobStore):
        with api._connection("list content files") as conn:
            named = {row[0] for row in conn.execute("SELECT file FROM blobs UNION SELECT file FROM blob_api_staged")}
        files = [p for p in api.blob_root.rglob("*") if p.is_file()] if api.blob_root.exists() else []
        return sum(1 for p in files if p.name not in named)
    return 0


def read(api: BlobApiStore, name: str, offset: int = 0, length: int | None = None) -> bytes:
    reader, _ = api.read_blob("cnt", name, NONE)
    return reader.read(offset, length)


def test_put_blob_streams_and_computes_the_md5_when_asked(api: BlobApiStore) -> None:
    data = pattern(3 * CHUNK + 77)
    info = api.put_blob("cnt", "big", pieces(data, 65_536), BlobWrite(content_md5=True), NONE)
    assert info.props.length == len(data) and info.headers.content_md5 == md5(data)
    assert read(api, "big") == data
    given = ContentHeaders(content_md5="given==")
    assert api.put_blob("cnt", "big", [b"x"], BlobWrite(given, content_md5=True), NONE).headers.content_md5 == "given=="
    assert api.put_blob("cnt", "big", [b"x"], BlobWrite(), NONE).headers.content_md5 == ""


def test_block_lists_of_large_blocks_compose_inside_the_store(api: BlobApiStore) -> None:
    blocks = {f"b{i}": pattern(BLOCK + i, seed=i) for i in range(3)}
    for block_id, data in blocks.items():
        staged = api.stage_block("cnt", "big", block_id, pieces(data, 100_000), NONE)
        assert (staged.length, staged.md5) == (len(data), md5(data))
    api.commit_blocks("cnt", "big", [("Latest", "b2"), ("Latest", "b0"), ("Latest", "b1")], BlobWrite(), NONE)
    whole = blocks["b2"] + blocks["b0"] + blocks["b1"]
    assert read(api, "big") == whole
    for offset, length in [(0, 1), (len(whole) - 1, 1), (BLOCK + 2 - 3, 7), (CHUNK - 1, 2 * CHUNK), (len(whole), 5)]:
        assert read(api, "big", offset, length) == whole[offset:offset + length]
    # Committed blocks are ranges of the stored blob: recombining them copies parts of its chunks.
    api.stage_block("cnt", "big", "new", [b"NEW"], NONE)
    api.commit_blocks("cnt", "big", [("Committed", "b1"), ("Uncommitted", "new"), ("Committed", "b2")], BlobWrite(),
                      NONE)
    assert read(api, "big") == blocks["b1"] + b"NEW" + blocks["b2"]
    assert leftovers(api) == 0


def test_appends_and_copies_of_large_blobs(api: BlobApiStore) -> None:
    api.put_blob("cnt", "log", [], BlobWrite(blob_type="AppendBlob"), NONE)
    first, second = pattern(BLOCK, seed=1), pattern(CHUNK + 5, seed=2)
    _, offset = api.append_block("cnt", "log", pieces(first, 50_000), NONE, None, None)
    info, offset2 = api.append_block("cnt", "log", pieces(second, 50_000), NONE, len(first), None)
    assert (offset, offset2, info.props.length) == (0, len(first), len(first) + len(second))
    assert read(api, "log") == first + second
    copied = api.copy_blob(("cnt", "log"), ("cnt", "copy"), None, "u", NONE, NONE)
    assert copied.props.length == len(first) + len(second) and copied.blob_type == "AppendBlob"
    assert read(api, "copy") == first + second
    api.put_blob("cnt", "empty", [], BlobWrite(), NONE)
    api.copy_blob(("cnt", "empty"), ("cnt", "copy"), None, "u", NONE, NONE)
    assert read(api, "copy") == b""
    assert leftovers(api) == 0


def broken(size: int) -> Iterator[bytes]:
    yield from pieces(pattern(size, seed=9), 70_000)
    raise ConnectionResetError("the client went away")


def test_failed_uploads_and_refusals_leave_the_old_blob_and_nothing_behind(api: BlobApiStore) -> None:
    old = pattern(2 * CHUNK + 1)
    api.put_blob("cnt", "big", pieces(old, CHUNK), BlobWrite(), NONE)
    api.put_blob("cnt", "log", [b"start"], BlobWrite(blob_type="AppendBlob"), NONE)
    api.stage_block("cnt", "staged", "keep", [b"kept"], NONE)
    with pytest.raises(ConnectionResetError):
        api.put_blob("cnt", "big", broken(2 * CHUNK), BlobWrite(), NONE)
    with pytest.raises(ConnectionResetError):
        api.stage_block("cnt", "staged", "keep", broken(CHUNK + 1), NONE)
    with pytest.raises(ConnectionResetError):
        api.append_block("cnt", "log", broken(CHUNK + 1), NONE, None, None)
    with pytest.raises(BlobApiRefusal, match=r"^BlobAlreadyExists"):  # refused after the body was stored
        api.put_blob("cnt", "big", pieces(pattern(CHUNK + 3), CHUNK), BlobWrite(), Conditions(if_none_match="*"))
    with pytest.raises(BlobApiRefusal, match=r"^ContainerNotFound"):
        api.put_blob("nowhere", "big", [b"data"], BlobWrite(), NONE)
    with pytest.raises(BlobApiRefusal, match=r"^AppendPositionConditionNotMet"):
        api.append_block("cnt", "log", [b"more"], NONE, 1, None)
    assert read(api, "big") == old
    assert read(api, "log") == b"start"
    _, uncommitted, _ = api.block_list("cnt", "staged", "all", None)
    assert [(b.block_id, b.size) for b in uncommitted] == [("keep", 4)]
    api.commit_blocks("cnt", "staged", [("Latest", "keep")], BlobWrite(), NONE)
    assert read(api, "staged") == b"kept"
    assert leftovers(api) == 0


def test_a_read_keeps_its_version_while_the_blob_is_replaced(api: BlobApiStore) -> None:
    old, new = pattern(3 * CHUNK, seed=1), pattern(CHUNK, seed=2)
    api.put_blob("cnt", "big", pieces(old, CHUNK), BlobWrite(), NONE)
    reader, info = api.read_blob("cnt", "big", NONE)
    assert reader.properties.etag == info.props.etag
    chunks = reader.chunks()
    head = next(chunks)
    api.put_blob("cnt", "big", [new], BlobWrite(), NONE)
    api.delete_container("cnt", NONE)
    assert head + b"".join(chunks) == old


def test_staged_blocks_of_an_older_store_move_to_stored_content(storage: Storage) -> None:
    """SQLite's ``blob_api_blocks`` rows and PostgreSQL's schema version 8 kept staged blocks as one value each;
    opening the store (SQLite) or migrating to version 9 (PostgreSQL) moves them, and they commit as before."""
    if storage.case.kind == "embedded":
        from overcast.backends.sqlite.state import connect

        first = storage.backend().open_blob_api()
        first.create_container("old", {}, "")
        path = first.path
        first.close()
        conn = connect(path)
        conn.execute("INSERT INTO blob_api_blocks (container, name, block_id, seq, data) VALUES "
                     "('old', 'b', 'x', 1, ?), ('old', 'b', 'y', 2, ?)", (b"first ", b"second"))
        conn.close()
    elif storage.case.kind == "postgresql":
        import psycopg

        from overcast.backends.postgresql.schema import MIGRATIONS

        with psycopg.connect(storage.connection, autocommit=True) as conn:
            found = conn.execute("SELECT current_schema()").fetchone()
            if found is None or found[0] is None:
                schema = storage.connection.rsplit("search_path%3D", 1)[-1].split("&")[0]
                conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute("CREATE TABLE overcast_schema (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                         "applied TIMESTAMPTZ NOT NULL DEFAULT now())")
            for version, description, statements in MIGRATIONS:
                if version > 8:
                    break
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO overcast_schema (version, description) VALUES (%s, %s)",
                             (version, description))
            conn.execute("INSERT INTO blob_containers (name) VALUES ('old')")
            conn.execute("INSERT INTO blob_api_blocks (container, name, block_id, data) VALUES "
                         "('old', 'b', 'x', %s), ('old', 'b', 'y', %s)", (b"first ", b"second"))
    else:
        pytest.skip("the memory store keeps nothing between openings")
    api = storage.backend().open_blob_api()
    try:
        _, uncommitted, _ = api.block_list("old", "b", "all", None)
        assert [(b.block_id, b.size) for b in uncommitted] == [("x", 6), ("y", 6)]
        api.commit_blocks("old", "b", [("Latest", "y"), ("Latest", "x")], BlobWrite(), NONE)
        reader, _ = api.read_blob("old", "b", NONE)
        assert reader.read() == b"secondfirst "
        assert leftovers(api) == 0
    finally:
        api.close()
