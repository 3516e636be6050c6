"""The embedded SQLite backend: one database file in the data folder, shared by every instance process.

Only the state store is imported here; the others load from their modules (``overcast.backends.sqlite.queues``
and so on) when a function needs them.
"""

from __future__ import annotations

from overcast.backends.sqlite.state import SCHEMA, SqliteDatabase, SqliteStateStore, apply_schema, connect

__all__ = ["SCHEMA", "SqliteDatabase", "SqliteStateStore", "apply_schema", "connect"]
