"""An in-process StateStore: for tests and single-process runs that need no persistence."""

from __future__ import annotations

from overcast.backends.memory.common import MemoryStore


class MemoryStateStore(MemoryStore):
    """A dict behind a lock. Shared by the threads of one process only."""

    kind = "state store"

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        with self._open():
            return self._data.get(key)

    def put(self, key: str, value: str) -> None:
        with self._open():
            self._data[key] = value

    def put_if_absent(self, key: str, value: str) -> str:
        with self._open():
            return self._data.setdefault(key, value)

    def delete(self, key: str) -> bool:
        with self._open():
            return self._data.pop(key, None) is not None

    def list_prefix(self, prefix: str) -> dict[str, str]:
        with self._open():
            return {k: v for k, v in self._data.items() if k.startswith(prefix)}
