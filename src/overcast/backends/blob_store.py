"""Block blobs as the bindings and blob triggers use them: :class:`BlobStore` and its value types.

Re-exported by :mod:`overcast.backends.base` (their historical home); a module of its own so that the Blob API
store (:mod:`overcast.backends.blob_api_store`), which extends it, and ``base``, which names that store, do not
import each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Protocol


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def new_etag() -> str:
    """A quoted hex ETag shaped like Azure's (``"0x8DC1A2B3C4D5E6F"``), random so that every write differs."""
    return f'"0x8D{secrets.token_hex(7)[:13].upper()}"'


@dataclass(frozen=True)
class BlobProperties:
    container: str
    name: str
    length: int
    etag: str  # quoted, like the ETag header: '"0x8DC..."'; new on every write
    last_modified: datetime  # tz-aware UTC
    content_type: str
    metadata: Mapping[str, str]  # read-only


def blob_properties(container: str, name: str, length: int, etag: str, last_modified: float, content_type: str,
                    metadata: Mapping[str, str]) -> BlobProperties:
    return BlobProperties(container, name, length, etag, utc(last_modified), content_type,
                          MappingProxyType(dict(metadata)))


class BlobStore(Protocol):
    """Block blobs: whole-content writes and reads. A reader sees either the old or the new content, never a mix."""

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        """Create or overwrite (creating the container); a new ETag and last-modified time every time."""
        ...

    def get(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        """Content and the properties of that very content; None when the blob does not exist."""
        ...

    def properties(self, container: str, name: str) -> BlobProperties | None: ...

    def delete(self, container: str, name: str) -> bool:
        """False when the blob did not exist."""
        ...

    def containers(self) -> list[str]:
        """Every container, sorted."""
        ...

    # Declared after every method annotated with the builtin list: in the class body "list" names this method.
    def list(self, container: str, prefix: str = "") -> list[BlobProperties]:
        """Blobs whose name starts with ``prefix`` (literal; '/' is an ordinary character), ordered by name."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise StoreError. Closing twice is harmless."""
        ...
