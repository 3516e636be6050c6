"""KeyRing: generation, sharing through the store, resolution order, pinning, refresh and errors."""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.backends import StateStore
from overcast.backends.memory import MemoryStateStore
from overcast.backends.sqlite import SqliteStateStore
from overcast.errors import ConfigError, KeyPinnedError, StoreError
from overcast.web import key_pins
from overcast.web.keys import AuthLevel, KeyMatch, KeyRing

URLSAFE = set(string.ascii_letters + string.digits + "-_")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """Counts the reads a KeyRing makes, to check its refresh limits."""

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.lists = 0

    def get(self, key: str) -> str | None:
        return self.inner.get(key)

    def put(self, key: str, value: str) -> None:
        self.inner.put(key, value)

    def put_if_absent(self, key: str, value: str) -> str:
        return self.inner.put_if_absent(key, value)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def list_prefix(self, prefix: str) -> dict[str, str]:
        self.lists += 1
        return self.inner.list_prefix(prefix)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    opened: StateStore = MemoryStateStore() if request.param == "memory" else SqliteStateStore(tmp_path / "o.db")
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ring(store: StateStore, *, clock: Clock | None = None, **environ: str) -> KeyRing:
    return KeyRing(store, environ, clock=clock or Clock())


# -- generation -------------------------------------------------------------------------------------------------


def test_ensure_generates_keys_in_azure_shape(store: StateStore) -> None:
    ring(store).ensure(["HttpTrigger", "other"])
    host = json.loads(store.get("secrets/host") or "")
    assert set(host) == {"masterKey", "functionKeys", "systemKeys"}
    assert host["masterKey"]["name"] == "master" and host["masterKey"]["encrypted"] is False
    assert [k["name"] for k in host["functionKeys"]] == ["default"]
    assert host["systemKeys"] == []
    fn = json.loads(store.get("secrets/functions/httptrigger") or "")
    assert [(k["name"], k["encrypted"]) for k in fn["keys"]] == [("default", False)]
    assert store.get("secrets/functions/other") is not None
    values = [host["masterKey"]["value"], host["functionKeys"][0]["value"], fn["keys"][0]["value"]]
    assert len(set(values)) == 3
    for value in values:
        assert len(value) >= 40 and set(value) <= URLSAFE


def test_ensure_keeps_existing_keys_and_does_not_revive_deleted_ones(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure(["fn"])
    before = keys.snapshot(["fn"])
    assert keys.delete_function_key("fn", "default") is True
    keys.ensure(["fn"])
    after = keys.snapshot(["fn"])
    assert after["master"] == before["master"] and after["host"] == before["host"]
    assert after["functions"] == {"fn": {}}


def test_two_keyrings_on_one_sqlite_file_agree(tmp_path: Path) -> None:
    stores = [SqliteStateStore(tmp_path / "shared.db") for _ in range(2)]
    rings = [KeyRing(s, {}) for s in stores]
    barrier = threading.Barrier(8)
    snapshots: list[dict[str, object]] = []

    def start(index: int) -> None:
        barrier.wait()
        rings[index % 2].ensure(["a", "b"])
        snapshots.append(rings[index % 2].snapshot(["a", "b"]))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(snapshots) == 8
        assert all(s == snapshots[0] for s in snapshots)
        master = rings[1].master_key()
        assert rings[0].authenticate(master, None) == KeyMatch(AuthLevel.ADMIN, "master")
    finally:
        for s in stores:
            s.close()


def test_master_key_is_generated_on_demand(store: StateStore) -> None:
    keys = ring(store)
    master = keys.master_key()
    assert keys.master_key() == master
    assert keys.host_keys("functionKeys").keys() == {"default"}


# -- resolution -------------------------------------------------------------------------------------------------


def test_levels_and_names(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure(["Hello", "Other"])
    snap = keys.snapshot(["Hello"])
    system, _ = keys.set_host_key("systemKeys", "durabletask_extension", None)
    assert keys.authenticate(snap["master"], None) == KeyMatch(AuthLevel.ADMIN, "master")
    assert keys.authenticate(system, "Hello") == KeyMatch(AuthLevel.SYSTEM, "durabletask_extension")
    assert keys.authenticate(snap["host"]["default"], None) == KeyMatch(AuthLevel.FUNCTION, "default")
    own = snap["functions"]["Hello"]["default"]
    assert keys.authenticate(own, "Hello") == KeyMatch(AuthLevel.FUNCTION, "default")
    assert keys.authenticate(own, "hELLO") == KeyMatch(AuthLevel.FUNCTION, "default")
    assert keys.authenticate(own, "Other") is None
    assert keys.authenticate(own, None) is None
    for wrong in (None, "", "nope", own + "x", own[:-1], "é" * 10, "\ud800"):
        assert keys.authenticate(wrong, "Hello") is None


def test_resolution_order_master_system_host_function(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure(["fn"])
    keys.set_host_key("functionKeys", "h", "shared-value")
    keys.set_function_key("fn", "f", "shared-value")
    assert keys.authenticate("shared-value", "fn") == KeyMatch(AuthLevel.FUNCTION, "h")
    keys.set_host_key("systemKeys", "s", "shared-value")
    assert keys.authenticate("shared-value", "fn") == KeyMatch(AuthLevel.SYSTEM, "s")
    keys.set_host_key("functionKeys", "_master", "shared-value")
    assert keys.authenticate("shared-value", "fn") == KeyMatch(AuthLevel.ADMIN, "master")


# -- refresh ----------------------------------------------------------------------------------------------------


def test_key_added_by_another_instance_works_after_the_miss_delay(store: StateStore, clock: Clock) -> None:
    reader, writer = ring(store, clock=clock), ring(store)
    reader.ensure([])
    assert reader.authenticate("warm-up", None) is None  # loads the snapshot at t=0
    writer.set_host_key("functionKeys", "late", "late-key")
    clock.now += 0.1
    assert reader.authenticate("late-key", None) is None
    clock.now += 0.1
    assert reader.authenticate("late-key", None) == KeyMatch(AuthLevel.FUNCTION, "late")


def test_key_deleted_by_another_instance_stops_working_after_the_refresh_delay(
    store: StateStore, clock: Clock
) -> None:
    reader, writer = ring(store, clock=clock), ring(store)
    value, _ = writer.set_function_key("fn", "old", None)
    assert reader.authenticate(value, "fn") is not None
    writer.delete_function_key("fn", "old")
    clock.now += 1.9
    assert reader.authenticate(value, "fn") is not None  # a hit does not refresh before 2 s
    clock.now += 0.1
    assert reader.authenticate(value, "fn") is None


def test_misses_reload_the_store_at_most_every_200ms(store: StateStore, clock: Clock) -> None:
    counting = CountingStore(store)
    keys = ring(counting, clock=clock)
    keys.ensure([])
    counting.lists = 0
    for i in range(100):
        assert keys.authenticate(f"wrong-{i}", None) is None
    assert counting.lists == 1
    clock.now += 0.2
    for i in range(100):
        keys.authenticate(f"wrong-{i}", None)
    assert counting.lists == 2


def test_own_changes_apply_at_once(store: StateStore, clock: Clock) -> None:
    keys = ring(store, clock=clock)
    keys.ensure(["fn"])
    value, created = keys.set_host_key("functionKeys", "new", None)
    assert created is True
    assert keys.authenticate(value, None) == KeyMatch(AuthLevel.FUNCTION, "new")
    assert keys.delete_host_key("functionKeys", "new") is True
    assert keys.authenticate(value, None) is None


# -- pinning ----------------------------------------------------------------------------------------------------

PINNED_ENV = {
    "host.master": "pinned-master",
    "host.function.default": " pinned-default\n",
    "host.systemKey.ext": "pinned-system",
    "functions.Hello.custom": "pinned-fn",
}


def test_environment_pins_win_and_cannot_be_changed(store: StateStore) -> None:
    ring(store).ensure(["hello"])
    stored = ring(store).snapshot(["hello"])
    keys = KeyRing(store, PINNED_ENV, clock=Clock())
    assert keys.master_key() == "pinned-master"
    assert keys.authenticate(stored["master"], None) is None
    assert keys.authenticate("pinned-master", None) == KeyMatch(AuthLevel.ADMIN, "master")
    assert keys.authenticate("pinned-default", None) == KeyMatch(AuthLevel.FUNCTION, "default")
    assert keys.authenticate(stored["host"]["default"], None) is None
    assert keys.authenticate("pinned-system", None) == KeyMatch(AuthLevel.SYSTEM, "ext")
    assert keys.authenticate("pinned-fn", "HELLO") == KeyMatch(AuthLevel.FUNCTION, "custom")
    assert keys.function_keys("hello") == {"default": stored["functions"]["hello"]["default"], "custom": "pinned-fn"}
    assert keys.get_host_key("systemKeys", "EXT") == "pinned-system"
    with pytest.raises(KeyPinnedError, match=re.escape("environment variable 'host.master'")):
        keys.set_host_key("functionKeys", "_master", None)
    with pytest.raises(KeyPinnedError, match=re.escape("host.function.default")):
        keys.set_host_key("functionKeys", "DEFAULT", "x")
    with pytest.raises(KeyPinnedError, match=re.escape("host.systemKey.ext")):
        keys.delete_host_key("systemKeys", "ext")
    with pytest.raises(KeyPinnedError, match=re.escape("functions.Hello.custom")):
        keys.delete_function_key("hello", "custom")
    with pytest.raises(KeyPinnedError):
        keys.set_function_key("HELLO", "custom", None)


def test_pinned_master_and_function_keys_are_not_generated(store: StateStore) -> None:
    keys = KeyRing(store, PINNED_ENV, clock=Clock())
    keys.ensure(["hello", "plain"])
    assert store.get("secrets/host") is None
    assert store.get("secrets/functions/hello") is None
    assert store.get("secrets/functions/plain") is not None
    assert keys.known_functions() == ["hello", "plain"]
    keys.set_host_key("functionKeys", "extra", "extra-value")  # creates the host document without a default key
    assert keys.host_keys("functionKeys") == {"extra": "extra-value", "default": "pinned-default"}


def test_folder_pins_are_read_stripped_and_refreshed(store: StateStore, tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "host.master").write_text("folder-master\n")
    (folder / "functions.fn.default").write_text("  folder-fn  ")
    (folder / "README").write_text("not a key")
    (folder / ".hidden").write_text("host.master")
    (folder / "..data").mkdir()
    (folder / "host.function.empty").write_text("   ")
    keys = ring(store, clock=clock, OVERCAST_KEYS_DIR=str(folder))
    keys.ensure(["fn"])
    assert keys.master_key() == "folder-master"
    assert keys.function_keys("fn") == {"default": "folder-fn"}
    assert "empty" not in keys.host_keys("functionKeys")
    with pytest.raises(KeyPinnedError, match=re.escape(str(folder / "functions.fn.default"))):
        keys.delete_function_key("fn", "default")
    (folder / "host.systemKey.late").write_text("late-system")
    clock.now += 2
    assert keys.authenticate("late-system", None) == KeyMatch(AuthLevel.SYSTEM, "late")


def test_environment_pins_win_over_folder_pins(store: StateStore, tmp_path: Path) -> None:
    (tmp_path / "host.master").write_text("from-file")
    keys = KeyRing(store, {"OVERCAST_KEYS_DIR": str(tmp_path), "host.master": "from-env"})
    assert keys.master_key() == "from-env"


def test_kubernetes_secret_folder(store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "host.master").write_text("k8s-master")
    plain = ring(store, AzureWebJobsKubernetesSecretName=str(tmp_path))
    assert plain.master_key() != "k8s-master"  # only with AzureWebJobsSecretStorageType=kubernetes
    named = ring(store, AzureWebJobsSecretStorageType="Kubernetes", AzureWebJobsKubernetesSecretName=str(tmp_path))
    assert named.master_key() == "k8s-master"
    monkeypatch.setattr(key_pins, "DEFAULT_PIN_DIR", tmp_path)
    mounted = ring(store, AzureWebJobsSecretStorageType="kubernetes", AzureWebJobsKubernetesSecretName="my-secret")
    assert mounted.master_key() == "k8s-master"


def test_missing_keys_dir_is_a_config_error(store: StateStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OVERCAST_KEYS_DIR"):
        ring(store, OVERCAST_KEYS_DIR=str(tmp_path / "missing"))


# -- management API ---------------------------------------------------------------------------------------------


def test_master_key_is_addressed_as_underscore_master(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure([])
    master = keys.master_key()
    assert keys.get_host_key("functionKeys", "_master") == master
    assert keys.get_host_key("systemKeys", "_MASTER") == master
    assert keys.set_host_key("functionKeys", "_master", "chosen-master") == ("chosen-master", False)
    assert keys.master_key() == "chosen-master"
    generated, created = keys.set_host_key("systemKeys", "_master", None)
    assert created is True and keys.master_key() == generated
    with pytest.raises(ValueError, match=r"^Cannot delete System Key\.$"):
        keys.delete_host_key("functionKeys", "_master")
    with pytest.raises(ValueError, match="Cannot delete System Key"):
        keys.delete_function_key("fn", "_anything")


def test_set_get_delete_host_and_function_keys(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure(["Fn"])
    assert keys.set_host_key("functionKeys", "ci", "value-1") == ("value-1", True)
    assert keys.set_host_key("functionKeys", "CI", "value-2") == ("value-2", False)
    assert keys.get_host_key("functionKeys", "ci") == "value-2"
    assert keys.get_host_key("systemKeys", "ci") is None
    assert "CI" in keys.host_keys("functionKeys")
    assert keys.delete_host_key("functionKeys", "ci") is True
    assert keys.delete_host_key("functionKeys", "ci") is False
    assert keys.delete_host_key("systemKeys", "nothing") is False
    value, created = keys.set_function_key("FN", "extra", None)
    assert created is True and len(value) >= 40
    assert keys.function_keys("fn")["extra"] == value
    assert keys.delete_function_key("fn", "EXTRA") is True
    assert keys.delete_function_key("never-stored", "x") is False
    assert keys.function_keys("never-stored") == {}


@pytest.mark.parametrize("value", ["", " ", "a b", "tab\there", "new\nline", "nul\x00", "bell\x07", "nbsp\u00a0x"])
def test_invalid_key_values_are_rejected(store: StateStore, value: str) -> None:
    keys = ring(store)
    with pytest.raises(ValueError, match=r"^Invalid key value$"):
        keys.set_host_key("functionKeys", "k", value)
    with pytest.raises(ValueError, match=r"^Invalid key value$"):
        keys.set_function_key("fn", "k", value)
    with pytest.raises(ValueError, match=r"^Invalid key value$"):
        keys.set_host_key("functionKeys", "_master", value)


def test_invalid_names_and_kinds_are_rejected(store: StateStore) -> None:
    keys = ring(store)
    with pytest.raises(ValueError, match="Invalid key name"):
        keys.set_host_key("functionKeys", "a b", None)
    with pytest.raises(ValueError, match="Invalid function name"):
        keys.set_function_key("a/b", "k", None)
    with pytest.raises(ValueError, match="Invalid function name"):
        keys.ensure([""])
    with pytest.raises(ValueError, match="host key kind"):
        keys.host_keys("masterKeys")  # type: ignore[arg-type]


def test_snapshot_shape(store: StateStore) -> None:
    keys = ring(store)
    keys.ensure(["MyFunc"])
    keys.set_host_key("systemKeys", "ext", "system-value")
    snap = keys.snapshot(["MyFunc", "unknown"])
    assert list(snap) == ["master", "host", "system", "functions"]
    assert isinstance(snap["master"], str)
    assert list(snap["host"]) == ["default"]
    assert snap["system"] == {"ext": "system-value"}
    assert list(snap["functions"]) == ["MyFunc", "unknown"]
    assert list(snap["functions"]["MyFunc"]) == ["default"]
    assert snap["functions"]["unknown"] == {}
    json.dumps(snap)


def test_ensure_system_key_generates_once(store: StateStore) -> None:
    keys = ring(store)
    value = keys.ensure_system_key("durabletask_extension")
    assert keys.ensure_system_key("DurableTask_Extension") == value
    assert ring(store).get_host_key("systemKeys", "durabletask_extension") == value
    assert KeyRing(store, {"host.systemKey.pinned": "p"}).ensure_system_key("pinned") == "p"


def test_documents_from_azure_keep_their_extra_fields(store: StateStore) -> None:
    azure = {
        "masterKey": {"name": "master", "value": "azure-master", "encrypted": False},
        "functionKeys": [
            {"name": "default", "value": "azure-default", "encrypted": False},
            {"name": "sealed", "value": "CfDJ8...", "encrypted": True},
        ],
        "systemKeys": [],
        "hostName": "app.azurewebsites.net",
        "instanceId": "0000",
        "source": "runtime",
        "decryptionKeyId": "",
    }
    store.put("secrets/host", json.dumps(azure))
    keys = ring(store)
    assert keys.authenticate("azure-master", None) == KeyMatch(AuthLevel.ADMIN, "master")
    assert keys.authenticate("CfDJ8...", None) is None  # encrypted values cannot be read outside Azure
    keys.set_host_key("functionKeys", "new", "new-value")
    saved = json.loads(store.get("secrets/host") or "")
    assert saved["hostName"] == "app.azurewebsites.net" and saved["source"] == "runtime"
    assert [k["name"] for k in saved["functionKeys"]] == ["default", "sealed", "new"]


def test_corrupt_documents_raise_store_errors(store: StateStore) -> None:
    store.put("secrets/functions/broken", "{not json")
    keys = ring(store)
    with pytest.raises(StoreError, match="secrets/functions/broken"):
        keys.authenticate("anything", "broken")
    with pytest.raises(StoreError, match="secrets/functions/broken"):
        keys.set_function_key("broken", "k", None)


def test_documents_without_key_lists_are_repaired_on_write(store: StateStore) -> None:
    store.put("secrets/functions/fn", "{}")
    store.put("secrets/host", json.dumps({"functionKeys": "not a list"}))
    keys = ring(store)
    assert keys.function_keys("fn") == {}
    assert keys.set_function_key("fn", "k", "value-k") == ("value-k", True)
    assert keys.set_host_key("functionKeys", "h", "value-h") == ("value-h", True)
    master = keys.master_key()  # the host document had none: one is added
    assert keys.authenticate(master, None) == KeyMatch(AuthLevel.ADMIN, "master")
    assert keys.authenticate("value-k", "fn") == KeyMatch(AuthLevel.FUNCTION, "k")
