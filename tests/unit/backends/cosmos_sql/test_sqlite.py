"""The SQLite compiler's contract: parameters bound (never in the SQL text), the store's scope and string
columns, its own refusals, and statements cached by the parameters' shapes."""

from __future__ import annotations

import json
import sqlite3

import pytest

from overcast.backends.cosmos_sql import compile_sqlite
from overcast.backends.cosmos_sql.sqlite import json_path, like_glob
from overcast.errors import QueryError


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE docs (container TEXT, id TEXT, body TEXT)")
    rows = [("a", "1", {"id": "1", "name": "x'; DROP TABLE docs; --"}), ("a", "2", {"id": "2", "name": "y"}),
            ("b", "1", {"id": "1", "name": "y"})]
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(c, i, json.dumps(d)) for c, i, d in rows])
    return db


def test_parameters_are_bound_never_spliced() -> None:
    db = _db()
    hostile = "x'; DROP TABLE docs; --"
    compiled = compile_sqlite("SELECT VALUE c.id FROM c WHERE c.name = @name", {"@name": hostile}, "body",
                              table="docs")
    assert hostile not in compiled.sql and "DROP" not in compiled.sql
    assert hostile in compiled.params.values()
    assert compiled.results(db.execute(compiled.sql, compiled.params)) == ["1"]


def test_property_names_are_bound_too() -> None:
    compiled = compile_sqlite("SELECT * FROM c WHERE c[\"it's\"] = 1", None, "body", table="docs")
    assert "it's" not in compiled.sql and '$."it\'s"' in compiled.params.values()


def test_the_store_scope_and_string_columns() -> None:
    db = _db()
    compiled = compile_sqlite("SELECT VALUE c.name FROM c WHERE c.id = @id", [{"name": "@id", "value": "1"}], "body",
                              table="docs", scope="cq_t.container = :container", string_columns={"id": "id"})
    assert 'cq_t."id" = :cq' in compiled.sql
    rows = db.execute(compiled.sql, {**compiled.params, "container": "b"})
    assert compiled.results(rows) == ["y"]


def test_a_statement_is_reused_for_parameters_of_the_same_kinds() -> None:
    first = compile_sqlite("SELECT * FROM c WHERE c.n > @n", {"n": 3}, "body", table="docs")
    second = compile_sqlite("SELECT * FROM c WHERE c.n > @n", {"n": 7}, "body", table="docs")
    other = compile_sqlite("SELECT * FROM c WHERE c.n > @n", {"n": "7"}, "body", table="docs")
    assert first.template is second.template and first.params != second.params
    assert other.template is not first.template


@pytest.mark.parametrize(("text", "parameters", "message"), [
    ("SELECT * FROM c WHERE c.s LIKE c.pattern", {}, "LIKE with a pattern that is not a literal or parameter"),
    ("SELECT * FROM c WHERE STARTSWITH(c.s, 'a', c.flag)", {}, "STARTSWITH with a computed third argument"),
    ("SELECT * FROM c WHERE c['say \"hi\"'] = 1", {}, "with a double quote"),
    ("SELECT * FROM c WHERE LOWER(c.s).x = 1", {}, "a property of a computed value"),
    ("SELECT * FROM c WHERE c.x = @missing", {}, "the query uses the parameter @missing but no value was given"),
    ("SELECT TOP @n * FROM c", {"@n": -1}, "TOP must be a whole number of 0 or more, not -1"),
    ("SELECT * FROM c OFFSET @o LIMIT 1", {"@o": "1"}, "OFFSET must be a whole number of 0 or more, not '1'"),
    ("SELECT * FROM c WHERE " + "LOWER(" * 40 + "c.a" + ")" * 40 + " = 'x'", {},
     "the query's expressions nest too deeply for SQLite (parser stack overflow)"),
])
def test_what_the_compiler_refuses(text: str, parameters: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_sqlite(text, parameters, "body", table="docs")


def test_a_json_column_must_be_a_plain_name() -> None:
    with pytest.raises(QueryError, match="is not a plain SQL name"):
        compile_sqlite("SELECT * FROM c", None, "body; --", table="docs")
    with pytest.raises(QueryError, match="is not a plain SQL name"):
        compile_sqlite("SELECT * FROM c", None, "body", table="docs", document_column="x y")
    with pytest.raises(QueryError, match="is not a plain SQL name"):
        compile_sqlite("SELECT * FROM c", None, "body", table="docs", string_columns={"id": 'id"'})


@pytest.mark.parametrize(("steps", "path"), [
    (("a", "b"), ".a.b"), (("a b", 0), '."a b"[0]'), (("_x1", 12, "y"), "._x1[12].y"), (("é",), '."é"'),
])
def test_json_paths(steps: tuple[str | int, ...], path: str) -> None:
    assert json_path(steps) == path


@pytest.mark.parametrize(("pattern", "escape", "glob"), [
    ("a%", None, "a*"), ("_b_", None, "?b?"), ("[a-c]%", None, "[a-c]*"), ("[^a]", None, "[^a]"),
    ("a*b?", None, "a[*]b[?]"), ("100!%", "!", "100%"), ("!_!!", "!", "_!"), ("[", None, "[[]"),
])
def test_like_patterns_as_glob(pattern: str, escape: str | None, glob: str) -> None:
    assert like_glob(pattern, escape) == glob


def test_long_chains_stay_linear_and_run() -> None:
    """A chain of operators and nested functions: the statement grows linearly (a kind check per operand, not
    per level) and SQLite runs it."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE docs (body TEXT)")
    db.execute("INSERT INTO docs VALUES (?)", (json.dumps({"n": 3, "s": "X"}),))
    chain = "SELECT VALUE c.n FROM c WHERE " + " + ".join(["c.n"] * 60) + " = 180 AND " + \
        "LOWER(UPPER(" * 10 + "c.s" + "))" * 10 + " = 'x'"
    compiled = compile_sqlite(chain, None, "body", table="docs")
    assert len(compiled.sql) < 20_000
    assert compiled.results(db.execute(compiled.sql, compiled.params)) == [3]
