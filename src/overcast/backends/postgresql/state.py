"""PostgresStateStore: the key/value state (keys, timer status, blob receipts), scoped by the app's host id."""

from __future__ import annotations

import time

from overcast.backends.postgresql.database import PostgresDatabase
from overcast.backends.sql.keyrange import prefix_upper_bound


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _decode(value: bytes) -> str:
    return bytes(value).decode("utf-8", "surrogatepass")


class PostgresStateStore(PostgresDatabase):
    """Implements StateStore; ``scope`` (the host id) keeps two apps on one database apart."""

    def __init__(self, url: str, scope: str = "") -> None:
        super().__init__(url)
        self.scope = scope

    def get(self, key: str) -> str | None:
        with self._connection(f"read {key!r}") as conn:
            row = conn.execute("SELECT value FROM state WHERE scope = %s AND key = %s", (self.scope, key)).fetchone()
        return None if row is None else _decode(row[0])

    def put(self, key: str, value: str) -> None:
        with self._connection(f"write {key!r}") as conn:
            conn.execute(
                "INSERT INTO state (scope, key, value, updated) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (self.scope, key, _encode(value), time.time()),
            )

    def put_if_absent(self, key: str, value: str) -> str:
        with self._connection(f"write {key!r}") as conn:
            # One statement: the insert wins, or the conflict locks the existing row and the no-op update returns it
            # (a concurrent delete between two statements cannot slip in).
            row = conn.execute(
                "INSERT INTO state (scope, key, value, updated) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (scope, key) DO UPDATE SET value = state.value RETURNING value",
                (self.scope, key, _encode(value), time.time()),
            ).fetchone()
        assert row is not None
        return _decode(row[0])

    def delete(self, key: str) -> bool:
        with self._connection(f"delete {key!r}") as conn:
            cursor = conn.execute("DELETE FROM state WHERE scope = %s AND key = %s", (self.scope, key))
        return cursor.rowcount > 0

    def list_prefix(self, prefix: str) -> dict[str, str]:
        upper = prefix_upper_bound(prefix)
        with self._connection(f"list keys starting with {prefix!r}") as conn:
            if upper is None:
                rows = conn.execute(
                    "SELECT key, value FROM state WHERE scope = %s AND key >= %s", (self.scope, prefix)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT key, value FROM state WHERE scope = %s AND key >= %s AND key < %s",
                    (self.scope, prefix, upper),
                ).fetchall()
        return {str(k): _decode(v) for k, v in rows}
