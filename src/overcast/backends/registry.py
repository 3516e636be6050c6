"""The table of storage backends, by kind: which class serves the connections of each kind.

Each entry is an import string (``"package.module:Class"``, as uvicorn names its protocol implementations) and the
extra that installs its driver. Nothing is imported until a connection of that kind is opened, so a driver loads
only inside its backend's package and only when used; a driver that is not installed is reported with the
``pip install`` command that adds it. Adding a backend is its package plus one line in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from overcast.backends.base import BlobStore, Clock, LeaseStore, QueueBackend, StateStore, TableStore
from overcast.errors import StoreError

if TYPE_CHECKING:
    from overcast.durable.store import DurableStore


class Registration(NamedTuple):
    target: str  # "package.module:Class"
    extra: str | None = None  # the package extra that installs the driver (pip install overcast[<extra>])


# Keyed by the kinds overcast.config.connections gives a connection's value. "memory" has no connection value:
# tests and single-process tools ask for it by name.
BACKENDS: dict[str, Registration] = {
    "embedded": Registration("overcast.backends.sqlite:SqliteBackend"),
    "memory": Registration("overcast.backends.memory:MemoryBackend"),
}


@dataclass(frozen=True)
class BackendTarget:
    """Where a backend keeps its data: the connection's value and the data folder (embedded stores, blob files)."""

    data_dir: Path
    connection: str = ""
    clock: Clock = time.time


class StorageBackend(Protocol):
    """One connection's backend: opens each of its stores (the caller closes each store it opened)."""

    kind: str
    # A store opened twice shares its data (a database); False for stores that live in the object itself.
    reopens: bool
    # The durable engine may call the durable store's (short, local) transactions on the event loop; False for a
    # backend whose calls wait on a network and need a thread.
    durable_calls_inline: bool

    def open_state(self) -> StateStore: ...

    def open_queues(self) -> QueueBackend: ...

    def open_blobs(self) -> BlobStore: ...

    def open_tables(self) -> TableStore: ...

    def open_leases(self) -> LeaseStore: ...

    def open_durable(self) -> DurableStore: ...


class BackendFactory(Protocol):
    def __call__(self, target: BackendTarget) -> StorageBackend: ...


def available_kinds() -> frozenset[str]:
    return frozenset(BACKENDS)


def backend_class(kind: str) -> BackendFactory:
    """The class registered for ``kind``; StoreError when none is, or its driver is not installed."""
    registration = BACKENDS.get(kind)
    if registration is None:
        raise StoreError(f"No storage backend is registered for '{kind}' connections in this version of Overcast.")
    module_name, _, attribute = registration.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or str(exc)
        if registration.extra is None or missing.split(".")[0] == "overcast":
            raise
        raise StoreError(
            f"The '{kind}' backend needs the Python package '{missing}', which is not installed. Install it with: "
            f"pip install overcast[{registration.extra}]"
        ) from exc
    try:
        found: BackendFactory = getattr(module, attribute)
    except AttributeError:
        raise StoreError(f"The '{kind}' backend's entry '{registration.target}' names no class.") from None
    return found


def open_backend(kind: str, target: BackendTarget) -> StorageBackend:
    return backend_class(kind)(target)
