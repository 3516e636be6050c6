"""A PostgreSQL schema of its own for one test: created empty, dropped (with its tables) afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote


@contextmanager
def private_schema(server: str) -> Iterator[str]:
    """The server's URL with a fresh ``search_path`` (the backend creates the schema and its tables at open)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in server else "?"
    url = f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
