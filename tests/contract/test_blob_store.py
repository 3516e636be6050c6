"""The BlobStore contract (Azure block blob semantics), run against every backend.

Time is a FakeClock: tests move it instead of sleeping. To add a backend (PostgreSQL, Azure Storage, ...), add a
line to ``BACKEND_CASES`` in conftest.py; every test above the "SQLite
specifics" section then runs against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timezone
from pathlib import Path

import pytest

from overcast.backends import BlobStore, open_blob_store
from overcast.backends.base import BlobProperties, utc
from overcast.backends.sqlite.blobs import SqliteBlobStore
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock, race_processes, race_threads

MIB = 1024 * 1024


Backend = store_helpers.Backend[BlobStore]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(
        storage.name, lambda: storage.backend().open_blobs(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_blobs"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.open()


def names(blobs: list[BlobProperties]) -> list[str]:
    return [b.name for b in blobs]


def content(store: BlobStore, container: str, name: str) -> bytes:
    found = store.get(container, name)
    assert found is not None, f"blob {container}/{name} is missing"
    return found[0]


# -- put and get -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", bytes(range(256)), b"\x00" * 1000, bytes(range(256)) * (MIB // 256)],
    ids=["empty", "text", "every-byte", "zeros", "1MiB"],
)
def test_put_then_get_round_trips_the_bytes(store: BlobStore, data: bytes) -> None:
    store.put("files", "blob.bin", data)
    found = store.get("files", "blob.bin")
    assert found is not None
    got, properties = found
    assert type(got) is bytes
    assert got == data
    assert properties.length == len(data)


def test_put_returns_the_properties_the_store_reports(store: BlobStore, clock: FakeClock) -> None:
    written = store.put("files", "report.csv", b"a,b\n1,2\n", content_type="text/csv", metadata={"author": "ann"})
    assert written.container == "files"
    assert written.name == "report.csv"
    assert written.length == 8
    assert written.content_type == "text/csv"
    assert dict(written.metadata) == {"author": "ann"}
    assert written.last_modified == utc(clock.now)
    assert written.last_modified.tzinfo == timezone.utc
    found = store.get("files", "report.csv")
    assert found is not None
    assert found[1] == written
    assert store.properties("files", "report.csv") == written
    assert store.list("files") == [written]


def test_etag_is_quoted_and_new_on_every_write(store: BlobStore) -> None:
    etags = [store.put("files", "same", b"same bytes").etag for _ in range(20)]
    assert all(len(etag) > 2 and etag.startswith('"') and etag.endswith('"') for etag in etags)
    assert len(set(etags)) == len(etags), "an overwrite kept an earlier ETag"
    properties = store.properties("files", "same")
    assert properties is not None and properties.etag == etags[-1]
    other = store.put("files", "other", b"same bytes")
    assert other.etag not in etags


def test_last_modified_follows_the_clock(store: BlobStore, clock: FakeClock) -> None:
    first = store.put("files", "a", b"1")
    clock.advance(90.25)
    second = store.put("files", "a", b"2")
    assert second.last_modified == utc(clock.now)
    assert second.last_modified - first.last_modified == utc(clock.now) - utc(clock.now - 90.25)
    clock.advance(60)
    properties = store.properties("files", "a")  # reading does not touch it
    assert properties is not None and properties.last_modified == utc(clock.now - 60)


def test_content_type_defaults_to_octet_stream(store: BlobStore) -> None:
    assert store.put("files", "a", b"x").content_type == "application/octet-stream"
    store.put("files", "b", b"{}", content_type="application/json; charset=utf-8")
    properties = store.properties("files", "b")
    assert properties is not None and properties.content_type == "application/json; charset=utf-8"


def test_metadata_is_a_read_only_copy(store: BlobStore) -> None:
    metadata = {"author": "ann", "Version_2": "héllo wörld", "empty": ""}
    written = store.put("files", "a", b"x", metadata=metadata)
    metadata["author"] = "changed by the caller afterwards"
    properties = store.properties("files", "a")
    assert properties is not None
    assert dict(properties.metadata) == {"author": "ann", "Version_2": "héllo wörld", "empty": ""}
    assert dict(written.metadata) == dict(properties.metadata)
    with pytest.raises(TypeError):
        properties.metadata["author"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        written.metadata["new"] = "x"  # type: ignore[index]
    assert dict(store.put("files", "b", b"x").metadata) == {}


def test_overwrite_replaces_content_and_every_property(store: BlobStore, clock: FakeClock) -> None:
    first = store.put("files", "a", b"first version", content_type="text/plain", metadata={"v": "1"})
    clock.advance(5)
    second = store.put("files", "a", b"2nd")
    found = store.get("files", "a")
    assert found is not None
    assert found[0] == b"2nd"
    assert found[1] == second
    assert second.length == 3
    assert second.content_type == "application/octet-stream"
    assert dict(second.metadata) == {}  # a write replaces the metadata, as Azure's Put Blob does
    assert second.etag != first.etag
    assert names(store.list("files")) == ["a"]


def test_missing_blobs_are_none(store: BlobStore) -> None:
    assert store.get("files", "nothing") is None
    assert store.properties("files", "nothing") is None
    store.put("files", "something", b"x")
    assert store.get("files", "nothing") is None
    assert store.properties("files", "nothing") is None
    assert store.get("files", "SOMETHING") is None  # blob names are case-sensitive
    assert store.get("other", "something") is None


def test_names_that_a_file_system_would_confuse_are_distinct_blobs(store: BlobStore) -> None:
    blobs = {
        "a": b"1", "A": b"2", "a/b": b"3", "a/b/c.txt": b"4", "../up": b"5", "./dot": b"6", "dir/": b"7",
        "with space": b"8", "ünïcödé 😀": b"9", "back\\slash": b"10", "x" * 1024: b"11", "%20": b"12",
    }
    for name, data in blobs.items():
        store.put("files", name, data)
    assert names(store.list("files")) == sorted(blobs)
    for name, data in blobs.items():
        assert content(store, "files", name) == data


# -- delete ------------------------------------------------------------------------------------------------------


def test_delete_reports_whether_the_blob_existed(store: BlobStore) -> None:
    store.put("files", "a", b"x")
    store.put("files", "b", b"y")
    assert store.delete("files", "a") is True
    assert store.get("files", "a") is None
    assert store.properties("files", "a") is None
    assert store.delete("files", "a") is False
    assert store.delete("files", "never") is False
    assert store.delete("no-such-container", "a") is False
    assert names(store.list("files")) == ["b"]
    store.put("files", "a", b"again")
    assert content(store, "files", "a") == b"again"


# -- containers and listing --------------------------------------------------------------------------------------


def test_put_creates_containers_and_containers_are_sorted(store: BlobStore) -> None:
    assert store.containers() == []
    for container in ("zeta", "alpha", "m-1", "0-first"):
        store.put(container, "x", b"")
    store.put("alpha", "y", b"")
    assert store.containers() == ["0-first", "alpha", "m-1", "zeta"]


def test_reads_do_not_create_containers(store: BlobStore) -> None:
    assert store.get("ghost", "a") is None
    assert store.properties("ghost", "a") is None
    assert store.list("ghost") == []
    assert store.delete("ghost", "a") is False
    assert store.containers() == []


def test_list_is_ordered_by_name_and_scoped_to_the_container(store: BlobStore) -> None:
    for name in ("b", "a/2", "a/10", "B", "é", "a/1", "a"):
        store.put("files", name, name.encode())
    store.put("other", "a/3", b"")
    # Code point order: upper case before lower case, "10" before "2", accents after ASCII.
    assert names(store.list("files")) == ["B", "a", "a/1", "a/10", "a/2", "b", "é"]
    assert [b.container for b in store.list("files")] == ["files"] * 7
    assert names(store.list("other")) == ["a/3"]


def test_list_by_prefix_treats_slash_as_an_ordinary_character(store: BlobStore) -> None:
    for name in ("logs/2024/01.txt", "logs/2024/02.txt", "logs/2025/01.txt", "logs-old", "logs", "log", "other"):
        store.put("files", name, b"")
    assert names(store.list("files", "logs/2024/")) == ["logs/2024/01.txt", "logs/2024/02.txt"]
    assert names(store.list("files", "logs/")) == ["logs/2024/01.txt", "logs/2024/02.txt", "logs/2025/01.txt"]
    assert names(store.list("files", "logs")) == [
        "logs", "logs-old", "logs/2024/01.txt", "logs/2024/02.txt", "logs/2025/01.txt",
    ]
    assert names(store.list("files", "logs/2024/01.txt")) == ["logs/2024/01.txt"]
    assert store.list("files", "LOGS") == []  # prefixes are case-sensitive
    assert store.list("files", "zzz") == []
    assert len(store.list("files", "")) == 7


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a_", ["a_b"]),
        ("a%", ["a%", "a%x"]),
        ("a[", ["a[1]"]),
        ("a*", ["a*"]),
        ("a?", ["a?"]),
        ("a\\", ["a\\b"]),
        ("a.", ["a.b"]),
        ("\U0010ffff", ["\U0010ffff", "\U0010ffffz"]),
    ],
)
def test_list_prefix_is_literal_never_a_pattern(store: BlobStore, prefix: str, expected: list[str]) -> None:
    for name in ("a_b", "axb", "a%", "a%x", "abc", "a[1]", "a1", "a*", "a?", "a\\b", "ab", "a.b", "aXb",
                 "\U0010ffff", "\U0010ffffz", "\ufffd"):
        store.put("files", name, b"")
    assert names(store.list("files", prefix)) == expected


# -- validation --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("container", "reason"),
    [
        ("ab", "2 characters"),
        ("a" * 64, "64 characters"),
        ("", "0 characters"),
        ("Files", "upper-case"),
        ("my_files", "'_'"),
        ("my.files", "'.'"),
        ("-files", "hyphen"),
        ("files-", "hyphen"),
        ("my--files", "two hyphens"),
        ("$other", "'$'"),
    ],
)
def test_invalid_container_names_are_rejected(store: BlobStore, container: str, reason: str) -> None:
    expected = f"Blob container name '{container}' is invalid"
    with pytest.raises(StoreError, match="use 3-63 lower-case letters, digits and hyphens") as caught:
        store.put(container, "a", b"x")
    assert expected in str(caught.value)
    assert reason in str(caught.value)
    for call in (
        lambda: store.get(container, "a"),
        lambda: store.properties(container, "a"),
        lambda: store.delete(container, "a"),
        lambda: store.list(container),
    ):
        with pytest.raises(StoreError, match="is invalid"):
            call()
    assert store.containers() == []


def test_valid_container_names_at_the_limits(store: BlobStore) -> None:
    valid = ["abc", "a" * 63, "0-9", "c-1-2-3", "$root", "$logs", "$web"]
    for container in valid:
        store.put(container, "a", b"x")
    assert store.containers() == sorted(valid)


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        ("", "cannot be empty"),
        ("x" * 1025, "1025 characters"),
        ("lone \ud800 surrogate", "not valid Unicode"),
    ],
    ids=["empty", "too-long", "lone-surrogate"],
)
def test_invalid_blob_names_are_rejected(store: BlobStore, blob: str, reason: str) -> None:
    with pytest.raises(StoreError, match=reason):
        store.put("files", blob, b"x")
    for call in (
        lambda: store.get("files", blob),
        lambda: store.properties("files", blob),
        lambda: store.delete("files", blob),
    ):
        with pytest.raises(StoreError, match=reason):
            call()
    assert store.containers() == []


def test_a_prefix_that_cannot_be_text_is_rejected(store: BlobStore) -> None:
    store.put("files", "a", b"x")
    with pytest.raises(StoreError, match="not valid Unicode"):
        store.list("files", "a\udfff")


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"has space": "v"}, "Metadata name 'has space' of blob 'a' is invalid"),
        ({"1st": "v"}, "Metadata name '1st' of blob 'a' is invalid"),
        ({"dash-ed": "v"}, "Metadata name 'dash-ed' of blob 'a' is invalid"),
        ({"ünï": "v"}, "Metadata name 'ünï' of blob 'a' is invalid"),
        ({"": "v"}, "Metadata name '' of blob 'a' is invalid"),
        ({"n": 1}, "Metadata 'n' of blob 'a' must be a string, not int"),
    ],
)
def test_invalid_metadata_is_rejected(store: BlobStore, metadata: dict[str, str], problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        store.put("files", "a", b"x", metadata=metadata)
    assert problem in str(caught.value)
    assert store.get("files", "a") is None


def test_a_content_type_that_cannot_be_text_is_rejected(store: BlobStore) -> None:
    with pytest.raises(StoreError, match="Content type"):
        store.put("files", "a", b"x", content_type="text/\ud800")
    assert store.get("files", "a") is None


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    store.put("files", "a", b"x")
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.put("files", "b", b"y"),
        lambda: store.get("files", "a"),
        lambda: store.properties("files", "a"),
        lambda: store.delete("files", "a"),
        store.containers,
        lambda: store.list("files"),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="closed"):
            call()
    store.close()  # closing twice is harmless


def test_data_survives_reopening(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store does not persist")
    first = backend.open()
    written = first.put("files", "a/b", bytes(range(256)), content_type="text/x", metadata={"k": "v"})
    first.put("files", "gone", b"x")
    first.delete("files", "gone")
    first.close()
    second = backend.open()
    assert second.get("files", "a/b") == (bytes(range(256)), written)
    assert second.get("files", "gone") is None
    assert second.containers() == ["files"]
    assert second.list("files") == [written]


# -- concurrency -------------------------------------------------------------------------------------------------


def test_readers_never_see_the_content_of_one_write_with_the_properties_of_another(backend: Backend) -> None:
    """Two writers overwrite one blob with contents of different lengths while two readers read it: every read is
    one whole write, with that write's own ETag and length."""
    stores = [backend.open() for _ in range(4)] if backend.persistent else [backend.open()]
    written: dict[str, bytes] = {}  # ETag -> the content written with it
    written_lock = threading.Lock()
    writers_done = threading.Event()
    finished: list[int] = []
    stores[0].put("race", "blob", b"seed")
    seed = stores[0].properties("race", "blob")
    assert seed is not None
    written[seed.etag] = b"seed"

    def write(index: int) -> int:
        store = stores[index % len(stores)]
        for i in range(150):
            data = bytes([index * 100 + i % 100]) * (1 + (i * 7919 + index * 104729) % 20_000)
            etag = store.put("race", "blob", data).etag
            with written_lock:
                written[etag] = data
        return 150

    def read(index: int) -> list[tuple[bytes, BlobProperties]]:
        store = stores[index % len(stores)]
        seen: list[tuple[bytes, BlobProperties]] = []
        while not writers_done.is_set() or not seen:
            found = store.get("race", "blob")
            assert found is not None  # an overwrite never makes the blob disappear
            seen.append(found)
        return seen

    def run(index: int) -> object:
        if index >= 2:
            return read(index)
        try:
            return write(index)
        finally:
            finished.append(index)
            if len(finished) == 2:
                writers_done.set()

    results = race_threads(4, run)
    reads = [pair for result in results[2:] for pair in result]
    assert reads
    for data, properties in reads:
        assert len(data) == properties.length
        assert written[properties.etag] == data, "content and properties came from different writes"
    assert len(written) == 301


def test_processes_writing_different_blobs_at_once(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    body = (
        "me = int(sys.argv[1])\n"
        "result = []\n"
        "for i in range(60):\n"
        "    name = f'p{me}/{i:03}'\n"
        "    store.put('shared', name, (name * (i + 1)).encode(), metadata={'writer': str(me)})\n"
        "    result.append(name)\n"
    )
    # Created before the children start: processes creating a fresh database at once can fail to switch it to WAL.
    store = backend.open()
    results = race_processes(backend.child_setup, body, children=3)
    expected = sorted(name for result in results for name in result)
    assert len(expected) == 180
    assert names(store.list("shared")) == expected
    assert store.containers() == ["shared"]
    for name in expected:
        found = store.get("shared", name)
        assert found is not None
        data, properties = found
        assert data == (name * (int(name[-3:]) + 1)).encode()
        assert dict(properties.metadata) == {"writer": name[1]}


# -- SQLite specifics --------------------------------------------------------------------------------------------


def _content_files(blob_root: Path) -> list[Path]:
    return sorted(p for p in blob_root.rglob("*") if p.is_file())


def test_sqlite_keeps_one_content_file_per_blob(tmp_path: Path, clock: FakeClock) -> None:
    """Overwrites and deletes remove the file they replace: the blobs folder does not grow with every write."""
    blob_root = tmp_path / "blobs"
    store = SqliteBlobStore(tmp_path / "o.db", blob_root, clock)
    try:
        for i in range(5):
            store.put("files", "a", bytes([i]) * 10)
        store.put("files", "b", b"b")
        files = _content_files(blob_root)
        assert len(files) == 2
        assert all(f.parent == blob_root / "files" and f.suffix != ".tmp" for f in files)
        assert sorted(f.read_bytes() for f in files) == [b"\x04" * 10, b"b"]
        assert store.delete("files", "a") is True
        assert [f.read_bytes() for f in _content_files(blob_root)] == [b"b"]
    finally:
        store.close()


def test_sqlite_reports_a_content_file_removed_by_hand(tmp_path: Path, clock: FakeClock) -> None:
    blob_root = tmp_path / "blobs"
    store = SqliteBlobStore(tmp_path / "o.db", blob_root, clock)
    try:
        store.put("files", "a", b"content")
        [file] = _content_files(blob_root)
        file.unlink()
        with pytest.raises(StoreError, match="missing") as caught:
            store.get("files", "a")
        assert str(file) in str(caught.value)
        assert "files/a" in str(caught.value)
        store.put("files", "a", b"written again")  # the way out the message suggests
        assert content(store, "files", "a") == b"written again"
    finally:
        store.close()


def test_sqlite_reports_a_truncated_content_file(tmp_path: Path, clock: FakeClock) -> None:
    blob_root = tmp_path / "blobs"
    store = SqliteBlobStore(tmp_path / "o.db", blob_root, clock)
    try:
        store.put("files", "a", b"content")
        [file] = _content_files(blob_root)
        file.write_bytes(b"cont")
        with pytest.raises(StoreError, match="4 bytes instead of 7"):
            store.get("files", "a")
    finally:
        store.close()


def test_open_blob_store_keeps_contents_in_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_blob_store(data_dir)
    try:
        store.put("files", "a", b"x")
        assert content(store, "files", "a") == b"x"
    finally:
        store.close()
    assert (data_dir / "overcast.db").is_file()
    assert [f.read_bytes() for f in _content_files(data_dir / "blobs")] == [b"x"]


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteBlobStore(bad, tmp_path / "blobs")
    assert str(bad) in str(caught.value)
    assert "blob store" in str(caught.value)
