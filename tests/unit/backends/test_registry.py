"""The backend registry: a table of import strings, a driver named with its extra, stores opened once per
connection, the data folder kept private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from overcast.backends.pool import EMBEDDED, BackendPool
from overcast.backends.registry import BACKENDS, BackendTarget, Registration, open_backend
from overcast.errors import StoreError

BROKEN_BACKEND = """
import overcast_test_driver_that_is_not_installed  # the driver, imported only inside its backend's package

class Backend:
    pass
"""


@pytest.fixture
def broken_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "overcast_test_broken_backend.py").write_text(BROKEN_BACKEND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BACKENDS, "broken", Registration("overcast_test_broken_backend:Backend", extra="broken"))
    return "broken"


def test_a_missing_driver_names_the_extra_to_install(broken_kind: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        open_backend(broken_kind, BackendTarget(tmp_path))
    message = str(caught.value)
    assert "overcast_test_driver_that_is_not_installed" in message
    assert "pip install overcast[broken]" in message


def test_a_kind_with_no_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="No storage backend is registered for 'mysql://'"):
        BackendPool(tmp_path).stores("mysql://", "mysql://db/app")


def test_a_registered_entry_that_names_no_class_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "typo", Registration("overcast.backends.memory:NoSuchBackend"))
    with pytest.raises(StoreError, match="names no class"):
        open_backend("typo", BackendTarget(tmp_path))


@pytest.mark.parametrize("kind", ["memory", EMBEDDED])
def test_each_store_of_a_connection_is_opened_once_and_shared(kind: str, tmp_path: Path) -> None:
    pool = BackendPool(tmp_path / "data")
    try:
        stores = pool.stores(kind)
        assert pool.stores(kind) is stores
        assert stores.queues is stores.queues and stores.durable is stores.durable
        stores.queues.enqueue("work", b"x")
        # The listeners' own queue store sees the same messages (a second connection only where the data is shared).
        assert [m.body for m in stores.consumer_queues.peek("work", 5)] == [b"x"]
        assert (stores.consumer_queues is stores.queues) == (not stores.backend.reopens)
    finally:
        pool.close()


def test_the_embedded_backend_keeps_the_data_folder_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pool = BackendPool(data_dir)
    try:
        stores = pool.stores(EMBEDDED)
        stores.state.put("k", "v")
        stores.blobs.put("box", "a.txt", b"secret")
    finally:
        pool.close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "overcast.db").stat().st_mode) == 0o600
    blob_files = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert blob_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in blob_files)


def test_closing_the_pool_closes_every_store_it_opened(tmp_path: Path) -> None:
    pool = BackendPool(tmp_path)
    queues = pool.stores("memory").queues
    pool.close()
    with pytest.raises(StoreError, match="closed"):
        queues.enqueue("work", b"x")
