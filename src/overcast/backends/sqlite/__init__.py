"""The embedded SQLite backend: one database file in the data folder, shared by every instance process.

Only the backend class and the state store are imported here; the others load from their modules
(``overcast.backends.sqlite.queues`` and so on) when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.sqlite.backend import SqliteBackend
from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase, SqliteStateStore, apply_schema, connect

__all__ = ["SCHEMA", "SqliteBackend", "SqliteDatabase", "SqliteStateStore", "apply_schema", "connect"]

if TYPE_CHECKING:
    from overcast.backends.base import StorageBackend

    def _is_backend(backend: SqliteBackend) -> StorageBackend:
        """Never called: mypy checks here that the backend class implements the registry's protocol."""
        return backend
