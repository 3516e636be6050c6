"""The table of storage backends, by kind: which class serves the connections of each kind.

Each entry is an import string (``"package.module:Class"``, as uvicorn names its protocol implementations) and the
extra that installs its driver. Nothing is imported until a connection of that kind is opened, so a driver loads
only inside its backend's package and only when used; a driver that is not installed is reported with the
``pip install`` command that adds it. Adding a backend is its package plus one line in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple, Protocol

from overcast.backends.base import BackendTarget, StorageBackend
from overcast.errors import StoreError

__all__ = ["BACKENDS", "BackendTarget", "Registration", "StorageBackend", "available_kinds", "open_backend"]


class Registration(NamedTuple):
    target: str  # "package.module:Class"
    extra: str | None = None  # the package extra that installs the driver (pip install overcast[<extra>])


# Keyed by the kinds overcast.config.connections gives a connection's value. "memory" has no connection value:
# tests and single-process tools ask for it by name.
BACKENDS: dict[str, Registration] = {
    "embedded": Registration("overcast.backends.sqlite:SqliteBackend"),
    "memory": Registration("overcast.backends.memory:MemoryBackend"),
    "postgresql": Registration("overcast.backends.postgresql:PostgresBackend", "postgres"),
}


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
