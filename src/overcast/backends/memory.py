"""An in-process StateStore: for tests and single-process runs that need no persistence."""

from __future__ import annotations

import threading

from overcast.errors import StoreError


class MemoryStateStore:
    """A dict behind a lock. Shared by the threads of one process only."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("The in-memory state store is closed; open a new one.")

    def get(self, key: str) -> str | None:
        with self._lock:
            self._check_open()
            return self._data.get(key)

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._check_open()
            self._data[key] = value

    def put_if_absent(self, key: str, value: str) -> str:
        with self._lock:
            self._check_open()
            return self._data.setdefault(key, value)

    def delete(self, key: str) -> bool:
        with self._lock:
            self._check_open()
            return self._data.pop(key, None) is not None

    def list_prefix(self, prefix: str) -> dict[str, str]:
        with self._lock:
            self._check_open()
            return {k: v for k, v in self._data.items() if k.startswith(prefix)}

    def close(self) -> None:
        with self._lock:
            self._closed = True
