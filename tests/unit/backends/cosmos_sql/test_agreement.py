"""Every query's answers agree: the reference evaluator over Python dicts, and the SQLite statement over the same
documents as JSON text (filtering, sorting and paging in SQLite), on ~3,000 generated items of mixed kinds."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from overcast.backends.cosmos_sql import compile_sqlite, evaluate, parse_query
from tests.unit.backends.cosmos_sql.corpus import generated, sqlite_table

DOCS = generated()

# (query, parameters). ORDER BY ends in c.id where the order is compared exactly.
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("SELECT * FROM c", {}),
    ("SELECT * FROM c WHERE c.id = @id", {"@id": "item-00042"}),
    ("SELECT * FROM c WHERE c.id IN ('item-00001', 'item-00002', 'nope')", {}),
    ("SELECT c.id FROM c WHERE c.n = 5", {}),
    ("SELECT c.id FROM c WHERE c.n = 1", {}),
    ("SELECT c.id FROM c WHERE c.n = @n", {"@n": 0}),
    ("SELECT c.id FROM c WHERE c.n != 5", {}),
    ("SELECT c.id FROM c WHERE c.n <> 5", {}),
    ("SELECT c.id FROM c WHERE c.n > 90", {}),
    ("SELECT c.id FROM c WHERE c.n >= @low AND c.n < @high", {"@low": 10, "@high": 12}),
    ("SELECT c.id FROM c WHERE c.n <= 2 OR c.x > 8", {}),
    ("SELECT c.id FROM c WHERE NOT (c.n > 50)", {}),
    ("SELECT c.id FROM c WHERE NOT c.flag", {}),
    ("SELECT c.id FROM c WHERE c.flag", {}),
    ("SELECT c.id FROM c WHERE c.flag = true", {}),
    ("SELECT c.id FROM c WHERE c.flag != false", {}),
    ("SELECT c.id FROM c WHERE c.flag = null", {}),
    ("SELECT c.id FROM c WHERE c.flag >= null", {}),
    ("SELECT c.id FROM c WHERE NOT (c.flag = null)", {}),
    ("SELECT c.id FROM c WHERE c.s = 'alpha'", {}),
    ("SELECT c.id FROM c WHERE c.s = @s", {"@s": "[1,2]"}),
    ("SELECT c.id FROM c WHERE c.s > 'delta' AND c.s < 'iota'", {}),
    ("SELECT c.id FROM c WHERE c.s = '7' OR c.n = '7'", {}),
    ("SELECT c.id FROM c WHERE c.tags = @tags", {"@tags": [1, 2]}),
    ("SELECT c.id FROM c WHERE c.nested = {a: 1}", {}),
    ("SELECT c.id FROM c WHERE c.n = c.x", {}),
    ("SELECT c.id FROM c WHERE c.n < c.x", {}),
    ("SELECT c.id FROM c WHERE c.n IN (1, 2, '7', true)", {}),
    ("SELECT c.id FROM c WHERE c.s IN ('alpha', 'beta')", {}),
    ("SELECT c.id FROM c WHERE c.s NOT IN ('alpha', 'beta')", {}),
    ("SELECT c.id FROM c WHERE c.n BETWEEN 10 AND 12", {}),
    ("SELECT c.id FROM c WHERE c.n NOT BETWEEN 2 AND 98", {}),
    ("SELECT c.id FROM c WHERE c.s BETWEEN 'a' AND 'c'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE 'a%'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE '%a-_'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE 'kap[[]pa]%'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE '%!%%' ESCAPE '!'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE '[a-e]%'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE '[^a-e]%'", {}),
    ("SELECT c.id FROM c WHERE c.s NOT LIKE '%a%'", {}),
    ("SELECT c.id FROM c WHERE c.s LIKE @p", {"@p": "%ta"}),
    ("SELECT c.id FROM c WHERE c.nested.a.b = 3", {}),
    ("SELECT c.id FROM c WHERE c['nested']['c'] = 'zeta'", {}),
    ("SELECT c.id FROM c WHERE c.tags[0] = 'alpha'", {}),
    ("SELECT c.id FROM c WHERE c.lines[1].qty > 2", {}),
    ("SELECT c.id FROM c WHERE c.n + 1 = 10", {}),
    ("SELECT c.id FROM c WHERE c.n * 2 - c.x > 150", {}),
    ("SELECT c.id FROM c WHERE c.n / 4 = 2.5", {}),
    ("SELECT c.id FROM c WHERE c.n % 7 = 3", {}),
    ("SELECT c.id FROM c WHERE -c.x = 3", {}),
    ("SELECT c.id FROM c WHERE c.s || '!' = 'alpha!'", {}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.tags, 'beta')", {}),
    ("SELECT c.id FROM c WHERE NOT ARRAY_CONTAINS(c.tags, 'beta')", {}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.tags, @t)", {"@t": "Gamma"}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(['alpha', 'zeta'], c.s)", {}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.lines, {sku: 'beta'}, true)", {}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.lines, {sku: 'beta'}, false)", {}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.lines, @line, @partial)", {"@line": {"sku": "iota", "qty": 2},
                                                                             "@partial": True}),
    ("SELECT c.id FROM c WHERE ARRAY_CONTAINS(c.lines, @line)", {"@line": {"sku": "iota", "qty": 2}}),
    ("SELECT c.id FROM c WHERE STARTSWITH(c.s, 'ga')", {}),
    ("SELECT c.id FROM c WHERE STARTSWITH(c.s, 'ga', true)", {}),
    ("SELECT c.id FROM c WHERE ENDSWITH(c.s, '-3')", {}),
    ("SELECT c.id FROM c WHERE ENDSWITH(c.s, 'A', @ic)", {"@ic": True}),
    ("SELECT c.id FROM c WHERE CONTAINS(c.s, 'et')", {}),
    ("SELECT c.id FROM c WHERE CONTAINS(c.s, 'ET', true)", {}),
    ("SELECT c.id FROM c WHERE NOT CONTAINS(c.s, 'a')", {}),
    ("SELECT c.id FROM c WHERE IS_DEFINED(c.flag)", {}),
    ("SELECT c.id FROM c WHERE NOT IS_DEFINED(c.flag)", {}),
    ("SELECT c.id FROM c WHERE IS_NULL(c.n)", {}),
    ("SELECT c.id FROM c WHERE IS_STRING(c.n) OR IS_BOOL(c.n)", {}),
    ("SELECT c.id FROM c WHERE IS_NUMBER(c.s) OR IS_ARRAY(c.s) OR IS_OBJECT(c.s)", {}),
    ("SELECT c.id FROM c WHERE LOWER(c.s) = 'gamma'", {}),
    ("SELECT c.id FROM c WHERE UPPER(c.s) = 'ETA-1'", {}),
    ("SELECT c.id FROM c WHERE LENGTH(c.s) = 5", {}),
    ("SELECT c.id FROM c WHERE ARRAY_LENGTH(c.tags) = 2", {}),
    ("SELECT c.id FROM c WHERE ARRAY_LENGTH(c.tags) > 2 AND c.n < 20", {}),
    ("SELECT c.id, c.n, c.s FROM c WHERE c.n < 3", {}),
    ("SELECT c.id AS key, c.nested.a.b AS b, c.tags[1] FROM c WHERE c.n < 3", {}),
    ("SELECT VALUE c.n FROM c WHERE c.x > 9", {}),
    ("SELECT VALUE {id: c.id, n: c.n, both: [c.n, c.x]} FROM c WHERE c.n < 5", {}),
    ("SELECT c.id, c.n > 50 AS big, IS_DEFINED(c.s) AS has FROM c WHERE c.x = 0", {}),
    ("SELECT DISTINCT VALUE c.s FROM c", {}),
    ("SELECT DISTINCT c.flag FROM c", {}),
    ("SELECT DISTINCT VALUE c.n FROM c WHERE c.n < 10 ORDER BY c.n", {}),
    ("SELECT c.id FROM c ORDER BY c.n, c.id", {}),
    ("SELECT c.id FROM c ORDER BY c.n DESC, c.id", {}),
    ("SELECT c.id, c.s FROM c ORDER BY c.s ASC, c.id DESC", {}),
    ("SELECT c.id FROM c ORDER BY c.flag DESC, c.id ASC", {}),
    ("SELECT TOP 10 c.id FROM c ORDER BY c.x DESC, c.id", {}),
    ("SELECT TOP @k c.id FROM c WHERE c.n > 40", {"@k": 7}),
    ("SELECT c.id FROM c ORDER BY c.id OFFSET 20 LIMIT 5", {}),
    ("SELECT c.id FROM c WHERE c.n > 10 ORDER BY c.n DESC, c.id OFFSET @o LIMIT @l", {"@o": 3, "@l": 4}),
    ("SELECT VALUE t FROM c JOIN t IN c.tags WHERE t = 'zeta'", {}),
    ("SELECT c.id, t AS tag FROM c JOIN t IN c.tags WHERE c.n < 30 AND STARTSWITH(t, 'e')", {}),
    ("SELECT c.id, l.sku, l.qty FROM c JOIN l IN c.lines WHERE l.qty >= 3", {}),
    ("SELECT c.id, t, l.sku FROM c JOIN t IN c.tags JOIN l IN c.lines WHERE t = l.sku", {}),
    ("SELECT VALUE COUNT(1) FROM c JOIN t IN c.tags", {}),
    ("SELECT VALUE l FROM l IN c.lines WHERE l.qty = 4", {}),
    ("SELECT * FROM l IN c.lines WHERE l.sku = 'ETA'", {}),
    ("SELECT VALUE t FROM t IN c.tags ORDER BY t", {}),
    ("SELECT VALUE COUNT(1) FROM c", {}),
    ("SELECT VALUE COUNT(1) FROM c WHERE c.n > 50", {}),
    ("SELECT COUNT(c.flag) AS flags, COUNT(1) AS n FROM c", {}),
    ("SELECT VALUE SUM(c.n) FROM c WHERE IS_NUMBER(c.n)", {}),
    ("SELECT VALUE SUM(c.n) FROM c", {}),
    ("SELECT SUM(c.x) AS s, AVG(c.x) AS a FROM c WHERE IS_NUMBER(c.x)", {}),
    ("SELECT VALUE AVG(c.n) FROM c WHERE c.n > 1000", {}),
    ("SELECT VALUE SUM(c.n) FROM c WHERE c.n > 1000", {}),
    ("SELECT MIN(c.n) AS lo, MAX(c.n) AS hi FROM c", {}),
    ("SELECT MIN(c.s) AS lo, MAX(c.s) AS hi FROM c WHERE IS_STRING(c.s)", {}),
    ("SELECT MIN(c.flag) AS lo, MAX(c.flag) AS hi FROM c WHERE IS_BOOL(c.flag)", {}),
    ("SELECT VALUE MAX(c.nested.a.b) FROM c", {}),
    ("SELECT VALUE {total: COUNT(1), qty: SUM(l.qty)} FROM c JOIN l IN c.lines", {}),
    ("SELECT VALUE c.id FROM c WHERE c.n > 97 AND (c.s LIKE 'a%' OR c.flag = false OR NOT IS_DEFINED(c.s))", {}),
    ("SELECT VALUE c.id FROM c WHERE (c.n > 90) = true", {}),
    ("SELECT VALUE c.id FROM c WHERE (c.n > 90) != (c.x > 0)", {}),
    ("SELECT VALUE c.id FROM c WHERE NOT (c.n > 90 AND c.x > 0)", {}),
    ("SELECT VALUE c.id FROM c WHERE NOT (c.n > 90 OR c.x > -9)", {}),
    ("SELECT VALUE c.id FROM c WHERE c.n > undefined OR c.s = undefined", {}),
    ("SELECT VALUE c.id FROM c WHERE NOT (c.n IN (1, 2))", {}),
]


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite_table(DOCS)
    yield connection
    connection.close()


def _canonical(results: list[Any]) -> list[str]:
    return sorted(json.dumps(_normal(result), sort_keys=True) for result in results)


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("text", "parameters"), QUERIES, ids=[text for text, _ in QUERIES])
def test_sqlite_agrees_with_the_evaluator(db: sqlite3.Connection, text: str, parameters: dict[str, Any]) -> None:
    expected = evaluate(text, DOCS, parameters)
    compiled = compile_sqlite(text, parameters, "doc", table="items", string_columns={"id": "id"})
    got = compiled.results(db.execute(compiled.sql, compiled.params))
    query = parse_query(text)
    ordered = (query.order_by and not query.joins and query.source is None) or query.top or query.limit
    if ordered:
        assert _normal(got) == _normal(expected)
    else:
        assert _canonical(got) == _canonical(expected)


def test_the_queries_select_something_and_not_everything() -> None:
    """The table is a real test: most filters keep some rows and drop others."""
    sizes = [len(evaluate(text, DOCS, parameters)) for text, parameters in QUERIES if "WHERE" in text]
    assert sum(1 for size in sizes if 0 < size < len(DOCS)) > len(sizes) * 0.9
