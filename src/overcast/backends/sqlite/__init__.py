"""The embedded SQLite backend: one database file in the data folder, shared by every instance process."""

from __future__ import annotations

from overcast.backends.sqlite.state import SCHEMA, SqliteStateStore, apply_schema, connect

__all__ = ["SCHEMA", "SqliteStateStore", "apply_schema", "connect"]
