"""PostgresTableService: the PostgreSQL table store with tables as objects, ETags and transactions (the Table API);
the statements are the shared :class:`~overcast.backends.sql.table_service.TableServiceCore`'s. Operations that check
and then write take a transaction advisory lock on the table (what SQLite's write lock gives its store). The table
is schema version 3.
"""

from __future__ import annotations

from overcast.backends.postgresql.tables import Conn, PostgresTableStore
from overcast.backends.sql.table_service import TableServiceCore


class PostgresTableService(PostgresTableStore, TableServiceCore[Conn]):
    """Implements TableServiceStore (and so TableStore)."""

    def _begin_write(self, conn: Conn, name: str) -> None:
        """Begin a transaction holding the table's advisory lock (for operations that check, then write)."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"overcast.table:{name}",))
