"""The base of the shared SQL cores: what a core needs of a connection (sqlite3's and psycopg's both fit) and the
hooks each database supplies. Statements are written with ``?`` placeholders (and no other ``?``); ``_sql`` turns
them into the database's own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from overcast.backends.base import Clock


class SqlCursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class SqlConnection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> SqlCursor: ...


C = TypeVar("C", bound=SqlConnection)


class SqlStore(Generic[C]):
    """A core's view of its store: ``C`` is the database's connection type, so a hook can take the real one."""

    placeholder: ClassVar[str] = "?"
    _clock: Clock

    def _connection(self, action: str) -> AbstractContextManager[C]:
        """The store's connection under its lock, for ``action`` (named in errors); the database base supplies it."""
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        """``text`` with the database's placeholder for each ``?``."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _begin_write(self, conn: C, name: str) -> None:
        """Begin a transaction that checks and then writes, holding ``name``'s write lock until it ends."""
        raise NotImplementedError
