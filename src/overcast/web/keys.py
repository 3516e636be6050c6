"""Function keys, as the Azure Functions host keeps and checks them.

Keys live in the shared StateStore in Azure's secrets JSON shape (``secrets/host``, ``secrets/functions/<name>``),
so every instance sees the same keys and a file copied from Azure reads the same. Keys can also be pinned, with
the names of Azure's "kubernetes" secret repository, by environment variables or files in a mounted folder;
a pinned key wins over a stored one of the same name and cannot be changed through Overcast.
"""

from __future__ import annotations

import enum
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from overcast.backends.base import StateStore
from overcast.errors import KeyPinnedError
from overcast.web import key_docs as docs
from overcast.web.key_pins import MASTER_NAME, HostKind, Pin, Pins, is_pin_name, pin_folder, read_folder

HOST_DOC = "secrets/host"
FUNCTION_DOC_PREFIX = "secrets/functions/"

MASTER_ALIAS = "_master"
REFRESH_SECONDS = 2.0
MISS_REFRESH_SECONDS = 0.2

_KINDS: dict[str, HostKind] = {"functionkeys": "functionKeys", "keys": "functionKeys", "systemkeys": "systemKeys"}
_T = TypeVar("_T")
log = logging.getLogger("overcast.host.keys")


class AuthLevel(enum.IntEnum):
    ANONYMOUS = 0
    FUNCTION = 1
    SYSTEM = 2
    ADMIN = 3


@dataclass(frozen=True)
class KeyMatch:
    level: AuthLevel
    name: str


def _check_text(text: str, message: str) -> None:
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(message)


def _function(name: str) -> str:
    """The store's spelling of a function name (Azure's are case-insensitive)."""
    _check_text(name, "Invalid function name")
    if "/" in name:
        raise ValueError("Invalid function name")
    return name.lower()


def _kind(kind: str) -> HostKind:
    found = _KINDS.get(kind.lower())
    if found is None:
        raise ValueError(f"Unknown host key kind {kind!r}; use 'functionKeys' or 'systemKeys'.")
    return found


@dataclass(frozen=True)
class _Keys:
    """One consistent view of every key (stored merged with pinned), swapped whole on refresh."""

    loaded_at: float
    master: str | None
    host: dict[str, str]
    system: dict[str, str]
    functions: dict[str, dict[str, str]]
    _host_tiers: tuple[tuple[AuthLevel, str, bytes], ...] = ()
    _function_tiers: dict[str, tuple[tuple[str, bytes], ...]] = field(default_factory=dict)

    @staticmethod
    def build(loaded_at: float, pins: Pins, stored: Mapping[str, str]) -> _Keys:
        raw_host = stored.get(HOST_DOC)
        host_doc = docs.parse(raw_host, HOST_DOC) if raw_host is not None else {}
        master_entry = docs.readable(host_doc.get("masterKey"))
        master = pins.master.value if pins.master else (master_entry[1] if master_entry else None)
        host = docs.merge(docs.values(host_doc, "functionKeys"), pins.host)
        system = docs.merge(docs.values(host_doc, "systemKeys"), pins.system)
        functions: dict[str, dict[str, str]] = {}
        for store_key, raw in stored.items():
            if store_key.startswith(FUNCTION_DOC_PREFIX):
                functions[store_key[len(FUNCTION_DOC_PREFIX):]] = docs.values(docs.parse(raw, store_key), "keys")
        for fn, pinned in pins.functions.items():
            functions[fn] = docs.merge(functions.get(fn, {}), pinned)
        # Resolution order of the Azure host: master, then system keys, then host function keys.
        tiers = [(AuthLevel.ADMIN, MASTER_NAME, master)] if master else []
        tiers += [(AuthLevel.SYSTEM, n, v) for n, v in system.items()]
        tiers += [(AuthLevel.FUNCTION, n, v) for n, v in host.items()]
        return _Keys(
            loaded_at, master, host, system, functions,
            tuple((level, n, v.encode("utf-8", "surrogatepass")) for level, n, v in tiers),
            {fn: tuple((n, v.encode("utf-8", "surrogatepass")) for n, v in keys.items())
             for fn, keys in functions.items()},
        )

    def match(self, candidate: bytes, function_name: str | None) -> KeyMatch | None:
        for level, name, value in self._host_tiers:
            if hmac.compare_digest(candidate, value):
                return KeyMatch(level, name)
        if function_name is not None:
            for name, value in self._function_tiers.get(function_name.lower(), ()):
                if hmac.compare_digest(candidate, value):
                    return KeyMatch(AuthLevel.FUNCTION, name)
        return None


class KeyRing:
    """The keys of one app, shared through the StateStore by every instance (and by ``overcast keys``)."""

    def __init__(
        self,
        store: StateStore,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        self._store = store
        self._clock = clock
        # The environment is fixed for the life of a process; the folder is re-read on every refresh, because
        # Kubernetes updates a mounted secret in place.
        self._env_pins = [(name, value) for name, value in env.items() if is_pin_name(name)]
        self._folder = pin_folder(env)
        self._cache: _Keys | None = None
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------------------------

    def _pins(self) -> Pins:
        pins = Pins()
        for name, value in self._env_pins:
            pins.add(name, value, f"environment variable '{name}'")
        if self._folder is not None:
            read_folder(self._folder, pins)
        return pins

    def _load(self) -> _Keys:
        keys = _Keys.build(self._clock(), self._pins(), self._store.list_prefix("secrets/"))
        self._cache = keys
        return keys

    def _current(self, max_age: float) -> _Keys:
        keys = self._cache
        if keys is not None and self._clock() - keys.loaded_at < max_age:
            return keys
        with self._read_lock:
            keys = self._cache  # another thread may have refreshed while we waited
            if keys is not None and self._clock() - keys.loaded_at < max_age:
                return keys
            return self._load()

    def authenticate(self, key: str | None, function_name: str | None) -> KeyMatch | None:
        if not key:
            return None
        candidate = key.encode("utf-8", "surrogatepass")
        keys = self._current(REFRESH_SECONDS)
        found = keys.match(candidate, function_name)
        if found is None:
            # A key just created by another instance must work soon; the shorter delay bounds store reads that
            # a stream of wrong keys can cause.
            fresher = self._current(MISS_REFRESH_SECONDS)
            if fresher is not keys:
                found = fresher.match(candidate, function_name)
        return found

    def master_key(self) -> str:
        keys = self._load()
        if keys.master is not None:
            return keys.master

        def add_master(doc: dict[str, Any]) -> str:
            entry = docs.readable(doc.get("masterKey"))
            if entry is not None:
                return entry[1]
            doc["masterKey"] = docs.entry(MASTER_NAME, docs.generate_key())
            return str(doc["masterKey"]["value"])

        return self._modify(HOST_DOC, self._fresh_host, add_master, "")

    def host_keys(self, kind: HostKind) -> dict[str, str]:
        keys = self._load()
        return dict(keys.host if _kind(kind) == "functionKeys" else keys.system)

    def function_keys(self, function_name: str) -> dict[str, str]:
        return dict(self._load().functions.get(_function(function_name), {}))

    def get_host_key(self, kind: HostKind, name: str) -> str | None:
        if name.lower() == MASTER_ALIAS:
            _kind(kind)
            return self._load().master
        return docs.find(self.host_keys(kind), name)

    def known_functions(self) -> list[str]:
        """Lower-cased names of the functions that have stored or pinned keys."""
        return sorted(self._load().functions)

    def snapshot(self, function_names: Iterable[str]) -> dict[str, Any]:
        master = self.master_key()
        keys = self._load()
        return {
            "master": master,
            "host": dict(keys.host),
            "system": dict(keys.system),
            "functions": {fn: dict(keys.functions.get(_function(fn), {})) for fn in function_names},
        }

    # -- writing ---------------------------------------------------------------------------------------------------

    def _modify(
        self,
        store_key: str,
        fresh: Callable[[], dict[str, Any]] | None,
        change: Callable[[dict[str, Any]], _T],
        absent: _T,
    ) -> _T:
        """Read-change-write one secrets document (``fresh`` creates a missing one; None: return ``absent``).

        Writers in this process are serialised; the store has no compare-and-swap, so two instances changing the
        same document at the same moment can lose one change (as with Azure's blob repository).
        """
        with self._write_lock:
            raw = self._store.get(store_key)
            if raw is None:
                if fresh is None:
                    return absent
                raw = self._store.put_if_absent(store_key, docs.dump(fresh()))
            doc = docs.parse(raw, store_key)
            before = docs.dump(doc)
            result = change(doc)
            if docs.dump(doc) != before:
                self._store.put(store_key, docs.dump(doc))
            self._cache = None
            return result

    def _fresh_host(self) -> dict[str, Any]:
        # With a pinned master the operator manages keys by pinning; inventing a default key would add access.
        return docs.fresh_host_doc(self._pins().master is None)

    def ensure(self, function_names: Iterable[str]) -> None:
        """Generate the keys Azure generates: host secrets and each function's secrets, when they do not exist.

        Like Azure, a document that exists is left alone: a deleted default key is not brought back.
        """
        wanted = [_function(n) for n in function_names]
        pins = self._pins()
        if pins.master is None and self._store.get(HOST_DOC) is None:
            self._store.put_if_absent(HOST_DOC, docs.dump(docs.fresh_host_doc(True)))
        existing = self._store.list_prefix(FUNCTION_DOC_PREFIX)
        for fn in wanted:
            store_key = FUNCTION_DOC_PREFIX + fn
            if fn not in pins.functions and store_key not in existing:
                new_doc = {"keys": [docs.entry(docs.DEFAULT_NAME, docs.generate_key())]}
                self._store.put_if_absent(store_key, docs.dump(new_doc))
        self._cache = None

    def ensure_system_key(self, name: str) -> str:
        """The value of host system key ``name``, generated if missing (extensions call this at start)."""
        _check_text(name, "Invalid key name")

        def add(doc: dict[str, Any]) -> str:
            items = docs.key_list(doc, "systemKeys")
            current = docs.find(docs.values(doc, "systemKeys"), name)
            if current is None:
                current = docs.generate_key()
                docs.upsert(items, name, current)
            return current

        found = docs.find(self.host_keys("systemKeys"), name)
        return found if found is not None else self._modify(HOST_DOC, self._fresh_host, add, "")

    @staticmethod
    def _refuse_pinned(pin: Pin | None, what: str) -> None:
        if pin is not None:
            raise KeyPinnedError(f"The {what} is pinned by {pin.source}; change or remove it there.")

    @staticmethod
    def _new_value(name: str, value: str | None) -> str:
        _check_text(name, "Invalid key name")
        if value is None:
            return docs.generate_key()
        _check_text(value, "Invalid key value")
        return value

    def set_host_key(self, kind: HostKind, name: str, value: str | None) -> tuple[str, bool]:
        list_name = _kind(kind)
        new_value = self._new_value(name, value)
        pins = self._pins()
        if name.lower() == MASTER_ALIAS:
            self._refuse_pinned(pins.master, "master key")
            self._modify(HOST_DOC, self._fresh_host,
                         lambda d: d.update(masterKey=docs.entry(MASTER_NAME, new_value)), None)
            return new_value, value is None  # Azure answers 201 for a generated master key, 200 for a given one
        self._refuse_pinned(pins.table(list_name).get(name.lower()), f"host key '{name}'")
        created = self._modify(
            HOST_DOC, self._fresh_host, lambda d: docs.upsert(docs.key_list(d, list_name), name, new_value), False
        )
        return new_value, created

    def delete_host_key(self, kind: HostKind, name: str) -> bool:
        list_name = _kind(kind)
        if name.startswith("_"):
            raise ValueError("Cannot delete System Key.")
        self._refuse_pinned(self._pins().table(list_name).get(name.lower()), f"host key '{name}'")
        return self._modify(HOST_DOC, None, lambda d: docs.remove(docs.key_list(d, list_name), name), False)

    def set_function_key(self, function_name: str, name: str, value: str | None) -> tuple[str, bool]:
        fn = _function(function_name)
        new_value = self._new_value(name, value)
        pin = self._pins().functions.get(fn, {}).get(name.lower())
        self._refuse_pinned(pin, f"key '{name}' of function '{function_name}'")
        store_key = FUNCTION_DOC_PREFIX + fn
        created = self._modify(
            store_key, lambda: {"keys": []}, lambda d: docs.upsert(docs.key_list(d, "keys"), name, new_value), False
        )
        return new_value, created

    def delete_function_key(self, function_name: str, name: str) -> bool:
        fn = _function(function_name)
        if name.startswith("_"):
            raise ValueError("Cannot delete System Key.")
        pin = self._pins().functions.get(fn, {}).get(name.lower())
        self._refuse_pinned(pin, f"key '{name}' of function '{function_name}'")
        store_key = FUNCTION_DOC_PREFIX + fn
        return self._modify(store_key, None, lambda d: docs.remove(docs.key_list(d, "keys"), name), False)
