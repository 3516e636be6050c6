"""The PostgreSQL compiler on a real server, in a schema of its own: the Families examples give the docs'
results and every generated query agrees with the reference evaluator. Skipped locally without a server
(``OVERCAST_TEST_POSTGRES``), failing under ``CI`` (which uses the machine's server)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from overcast.backends.cosmos_sql import compile_postgresql, evaluate, parse_query
from overcast.backends.cosmos_sql.postgresql import like_posix
from tests.unit.backends.cosmos_sql.corpus import FAMILIES
from tests.unit.backends.cosmos_sql.test_agreement import DOCS, QUERIES, _canonical, _normal
from tests.unit.backends.cosmos_sql.test_families import CASES

CI_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _server() -> str:
    value = os.environ.get("OVERCAST_TEST_POSTGRES", "") or (CI_POSTGRES if os.environ.get("CI") else "")
    if value:
        return value
    pytest.skip("set OVERCAST_TEST_POSTGRES to a PostgreSQL server to run the PostgreSQL query tests")


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    server = _server()
    psycopg = pytest.importorskip("psycopg") if not os.environ.get("CI") else __import__("psycopg")
    schema = f"cq_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        try:
            for table, docs in (("items", DOCS), ("families", FAMILIES)):
                conn.execute(f"CREATE TABLE {table} (seq serial PRIMARY KEY, id text NOT NULL, doc jsonb NOT NULL, "
                             "body text NOT NULL)")
                with conn.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {table} (id, doc, body) VALUES (%s, %s::jsonb, %s)",
                                       [(doc["id"], json.dumps(doc), json.dumps(doc)) for doc in docs])
            yield conn
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _run(conn: Any, text: str, parameters: dict[str, Any], table: str) -> list[Any]:
    query = parse_query(text)
    ordered_by_store = not query.order_by and not query.aggregates
    # Without ORDER BY, rows come in the store's order (insertion here, as the SQLite store's rowid).
    source = f"(SELECT * FROM {table} ORDER BY seq)" if ordered_by_store else table
    compiled = compile_postgresql(query, parameters, "doc", table=source, string_columns={"id": "id"})
    return compiled.results(conn.execute(compiled.sql, compiled.params).fetchall())


@pytest.mark.parametrize(("text", "parameters", "expected"), CASES, ids=[text for text, _, _ in CASES])
def test_the_families_examples(pg: Any, text: str, parameters: dict[str, Any], expected: list[Any]) -> None:
    assert _normal(_run(pg, text, parameters, "families")) == _normal(expected)


@pytest.mark.parametrize(("text", "parameters"), QUERIES, ids=[text for text, _ in QUERIES])
def test_postgresql_agrees_with_the_evaluator(pg: Any, text: str, parameters: dict[str, Any]) -> None:
    expected = evaluate(text, DOCS, parameters)
    got = _run(pg, text, parameters, "items")
    query = parse_query(text)
    if (query.order_by and not query.joins and query.source is None) or query.top or query.limit:
        assert _normal(got) == _normal(expected)
    else:
        assert _canonical(got) == _canonical(expected)


@pytest.mark.parametrize(("pattern", "escape", "regex"), [
    ("a%", None, "^a.*$"), ("_b_", None, "^.b.$"), ("[a-c]%", None, "^[a-c].*$"), ("[^a]", None, "^[^a]$"),
    ("a.b*(c)", None, r"^a\.b\*\(c\)$"), ("100!%", "!", "^100%$"), ("!_!!", "!", "^_!$"), ("$^", None, r"^\$\^$"),
])
def test_like_patterns_as_posix(pattern: str, escape: str | None, regex: str) -> None:
    assert like_posix(pattern, escape) == regex


def test_whole_documents_from_the_text_column(pg: Any) -> None:
    """jsonb reorders properties; the text the store keeps beside it comes back as written."""
    compiled = compile_postgresql("SELECT * FROM f WHERE f.id = @id", {"@id": "WakefieldFamily"}, "doc",
                                  table="families", string_columns={"id": "id"}, document_column="body")
    (found,) = compiled.results(pg.execute(compiled.sql, compiled.params).fetchall())
    assert found == FAMILIES[1] and list(found) == list(FAMILIES[1])
