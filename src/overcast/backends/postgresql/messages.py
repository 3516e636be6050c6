"""How PostgreSQL failures read: one line with what to do, and never a password."""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors


def redact(url: str) -> str:
    """The URL without its password (errors and logs never show one)."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    host, port, db, user = (str(params.get(key) or "") for key in ("host", "port", "dbname", "user"))
    where = f"{host or 'localhost'}:{port}" if port else (host or "localhost")
    return f"postgresql://{user + '@' if user else ''}{where}/{db}"


def explain(exc: BaseException) -> str:
    """What an operator can do about a driver error, in a few words."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return f"{text}; grant the role CREATE on the database or schema (or run 'overcast db migrate' as its owner)"
    if isinstance(exc, pg_errors.InvalidPassword) or "password authentication failed" in text:
        return f"{text}; check the user name and password in the connection string"
    if isinstance(exc, pg_errors.InvalidCatalogName) or ("database" in text and "does not exist" in text):
        return f"{text}; create the database (createdb) or fix its name in the connection string"
    if isinstance(exc, psycopg.OperationalError):
        return f"{text}; check that the server is running and reachable"
    return text
