"""The PostgreSQL backend (``pip install overcast[postgres]``): psycopg 3, one database shared by every instance.

Only the backend class is imported here; the stores load from their modules when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overcast.backends.postgresql.backend import PostgresBackend

__all__ = ["PostgresBackend"]

if TYPE_CHECKING:
    from overcast.backends.base import StorageBackend

    def _is_backend(backend: PostgresBackend) -> StorageBackend:
        """Never called: mypy checks here that the backend class implements the registry's protocol."""
        return backend
