"""The StateStore contract, run against every backend.

To add a backend (PostgreSQL, ...), add a line to ``BACKEND_CASES`` in conftest.py; every test below then runs
against it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.backends import StateStore, open_state_store
from overcast.backends.sqlite import SqliteStateStore
from overcast.errors import StoreError
from tests.contract import store_helpers
from tests.contract.conftest import Storage

Backend = store_helpers.Backend[StateStore]


@pytest.fixture
def backend(storage: Storage) -> Iterator[Backend]:
    """Each backend of the contracts' list (tests/contract/conftest.py), opened through the registry."""
    chosen = Backend(
        storage.name, lambda: storage.backend().open_state(), persistent=storage.reopens,
        child_setup=storage.child_setup("open_state"),
    )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.open()


def test_get_of_a_missing_key_is_none(store: StateStore) -> None:
    assert store.get("nothing") is None


def test_put_then_get_and_overwrite(store: StateStore) -> None:
    store.put("k", "one")
    assert store.get("k") == "one"
    store.put("k", "two")
    assert store.get("k") == "two"
    store.put("empty", "")
    assert store.get("empty") == ""


def test_delete_reports_whether_the_key_existed(store: StateStore) -> None:
    store.put("k", "v")
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False


def test_put_if_absent_keeps_the_first_value(store: StateStore) -> None:
    assert store.put_if_absent("k", "first") == "first"
    assert store.put_if_absent("k", "second") == "first"
    assert store.get("k") == "first"
    store.delete("k")
    assert store.put_if_absent("k", "third") == "third"


def test_list_prefix_returns_matching_keys_with_values(store: StateStore) -> None:
    for key in ("secrets/host", "secrets/functions/a", "secrets/functions/b", "secretsx", "other"):
        store.put(key, f"v:{key}")
    assert store.list_prefix("secrets/functions/") == {
        "secrets/functions/a": "v:secrets/functions/a",
        "secrets/functions/b": "v:secrets/functions/b",
    }
    assert set(store.list_prefix("secrets")) == {"secrets/host", "secrets/functions/a", "secrets/functions/b",
                                                 "secretsx"}
    assert len(store.list_prefix("")) == 5
    assert store.list_prefix("nope") == {}
    assert store.list_prefix("SECRETS") == {}  # keys are case-sensitive


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a_", {"a_b"}),
        ("a%", {"a%", "a%x"}),
        ("a[", {"a[1]"}),
        ("a*", {"a*"}),
        ("a?", {"a?"}),
        ("a\\", {"a\\b"}),
    ],
)
def test_list_prefix_is_literal(store: StateStore, prefix: str, expected: set[str]) -> None:
    for key in ("a_b", "axb", "a%", "a%x", "abc", "a[1]", "a1", "a*", "a?", "a\\b", "ab"):
        store.put(key, key)
    assert set(store.list_prefix(prefix)) == expected


def test_list_prefix_at_the_edges_of_unicode(store: StateStore) -> None:
    top = "\U0010ffff"
    for key in ("z", "z" + top, "z" + top + "a", "z" + top + top, "{", "\ud7ff", "\ud7ffx", "\ue000"):
        store.put(key, "v")
    assert set(store.list_prefix("z" + top)) == {"z" + top, "z" + top + "a", "z" + top + top}
    assert set(store.list_prefix(top)) == set()
    assert set(store.list_prefix("\ud7ff")) == {"\ud7ff", "\ud7ffx"}


def test_unicode_and_large_values_round_trip(store: StateStore) -> None:
    values = {"accents": "héllo wörld", "emoji": "🙂✓", "cjk": "鍵", "nul": "a\x00b", "big": "x" * 1_000_000}
    for key, value in values.items():
        store.put(f"u/{key}", value)
    assert store.list_prefix("u/") == {f"u/{k}": v for k, v in values.items()}
    store.put("ключ", "значение")
    assert store.get("ключ") == "значение"


def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = backend.open()
    store.put("k", "v")
    store.close()
    with pytest.raises(StoreError):
        store.get("k")
    store.close()  # closing twice is harmless


def test_data_survives_reopening(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"the {backend.name} store does not persist")
    first = backend.open()
    first.put("k", "v")
    first.put_if_absent("p", "1")
    first.close()
    second = backend.open()
    assert second.get("k") == "v"
    assert second.put_if_absent("p", "2") == "1"


def test_put_if_absent_race_between_threads(backend: Backend) -> None:
    """8 threads (each with its own handle when the backend has per-handle state) race on each key."""
    stores = [backend.open() for _ in range(2)] if backend.persistent else [backend.open()]
    threads_count, keys = 8, 40
    barrier = threading.Barrier(threads_count)
    results: list[dict[str, str]] = [{} for _ in range(threads_count)]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        store = stores[index % len(stores)]
        try:
            for i in range(keys):
                barrier.wait()
                results[index][f"race/{i}"] = store.put_if_absent(f"race/{i}", f"thread{index}-{i}")
        except BaseException as exc:  # reported below: an exception in a thread would otherwise vanish
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = stores[0].list_prefix("race/")
    assert len(stored) == keys
    for result in results:
        assert result == stored


_CHILD = """
import json, sys
{setup}
keys = int(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
results = {{f"race/{{i}}": store.put_if_absent(f"race/{{i}}", f"{{sys.argv[2]}}-{{i}}") for i in range(keys)}}
store.close()
print(json.dumps(results), flush=True)
"""


def test_put_if_absent_race_between_processes(backend: Backend) -> None:
    if backend.child_setup is None:
        pytest.skip(f"the {backend.name} store lives in one process")
    keys = 300
    code = _CHILD.format(setup=backend.child_setup)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(keys), f"proc{n}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(2)
    ]
    outputs: list[dict[str, str]] = []
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:  # release both at once: the loops then overlap on the same keys
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    stored = backend.open().list_prefix("race/")
    assert len(stored) == keys
    assert outputs[0] == outputs[1] == stored


# -- SQLite specifics --------------------------------------------------------------------------------------------


def test_open_state_store_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "data"
    store = open_state_store(data_dir)
    try:
        store.put("k", "v")
    finally:
        store.close()
    db = data_dir / "overcast.db"
    assert db.is_file()
    assert (data_dir / ".gitignore").read_text().splitlines()[-1] == "*"  # the folder holds keys
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in conn.execute("PRAGMA table_info(state)")]
    conn.close()
    assert columns == ["key", "value", "updated"]


def test_open_state_store_reports_an_unusable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="data folder") as caught:
        open_state_store(blocker / "data")
    assert str(blocker / "data") in str(caught.value)


def test_sqlite_errors_name_the_database_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as caught:
        SqliteStateStore(bad)
    assert str(bad) in str(caught.value)
    assert "not a valid Overcast database" in str(caught.value)
