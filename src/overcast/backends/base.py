"""The storage seam: every backend (memory, SQLite, later PostgreSQL) offers these few operations.

Values are strings so that a backend never has to guess a serialisation; callers store JSON when they need structure.
"""

from __future__ import annotations

from typing import Protocol


class StateStore(Protocol):
    """A small, shared key/value store. Every method is safe to call from several threads and processes."""

    def get(self, key: str) -> str | None:
        """The stored value, or None when the key is absent."""
        ...

    def put(self, key: str, value: str) -> None:
        """Insert or overwrite."""
        ...

    def put_if_absent(self, key: str, value: str) -> str:
        """Insert unless the key exists, atomically; return the value stored now (ours or the earlier one).

        Two instances that generate a secret at the same time both call this and both keep the winner's value.
        """
        ...

    def delete(self, key: str) -> bool:
        """Remove the key; False when it was not there."""
        ...

    def list_prefix(self, prefix: str) -> dict[str, str]:
        """Every key starting with ``prefix`` (a literal prefix, never a pattern) with its value."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...
