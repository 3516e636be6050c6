"""The parser: what it accepts (and the shape it gives), and the errors for what it refuses, with their text."""

from __future__ import annotations

import pytest

from overcast.backends.cosmos_sql import parse_query
from overcast.backends.cosmos_sql.syntax import (
    ROOT,
    Aggregate,
    Between,
    Binary,
    Call,
    In,
    Index,
    Like,
    Literal,
    Param,
    Prop,
    Ref,
    SelectList,
    SelectStar,
    SelectValue,
)
from overcast.backends.cosmos_sql.values import UNDEFINED
from overcast.errors import InputError, QueryError


def test_select_star_from_an_alias() -> None:
    query = parse_query("select * from Families f where f.id = 'x'")
    assert isinstance(query.select, SelectStar)
    assert query.alias == "f" and query.source is None and query.joins == ()
    assert query.where == Binary("=", Prop(Ref("f", 32), "id", 33), Literal("x", 39), 37)


@pytest.mark.parametrize(("text", "alias"), [
    ("SELECT * FROM c", "c"), ("SELECT * FROM root r", "r"), ("SELECT * FROM Families AS f", "f"),
    ("SELECT * FROM c WHERE c.value = 1", "c"),
])
def test_from_aliases(text: str, alias: str) -> None:
    assert parse_query(text).alias == alias


def test_projection_names() -> None:
    query = parse_query('SELECT c.a.b, c["x y"], c.arr[0], c.n AS m, c.k k2, LOWER(c.s), c FROM c')
    assert isinstance(query.select, SelectList)
    assert [name for name, _ in query.select.items] == ["b", "x y", "$1", "m", "k2", "$2", "c"]
    assert query.select.items[2][1] == Index(Prop(Ref("c", 25), "arr", 26), 0, 30)


def test_value_distinct_top_order_offset() -> None:
    query = parse_query("SELECT DISTINCT TOP @n VALUE c.x FROM c ORDER BY c.x DESC, c.y ASC, c.z OFFSET 5 LIMIT 10")
    assert query.distinct and query.top == Param("@n", 21)
    assert isinstance(query.select, SelectValue)
    assert [key.descending for key in query.order_by] == [True, False, False]
    assert query.offset == Literal(5, 80) and query.limit == Literal(10, 88)


def test_from_in_and_joins() -> None:
    query = parse_query("SELECT c.id, t, p FROM Families c JOIN t IN c.tags JOIN p IN t.parts")
    assert [join.alias for join in query.joins] == ["t", "p"]
    query = parse_query("SELECT * FROM ch IN Families.children")
    assert query.alias == "ch" and query.source == Prop(Ref(ROOT, 21), "children", 29)


def test_operators_and_precedence() -> None:
    where = parse_query("SELECT * FROM c WHERE NOT c.a = 1 AND c.b > 2 OR c.c <> 3").where
    assert isinstance(where, Binary) and where.op == "OR"
    assert isinstance(where.left, Binary) and where.left.op == "AND"
    assert isinstance(where.right, Binary) and where.right.op == "!="
    where = parse_query("SELECT * FROM c WHERE c.n BETWEEN 1 + 1 AND 5 AND c.s NOT LIKE 'a!%' ESCAPE '!'").where
    assert isinstance(where, Binary) and isinstance(where.left, Between) and isinstance(where.right, Like)
    assert where.right.negated and where.right.escape == Literal("!", 77)
    where = parse_query("SELECT * FROM c WHERE c.x NOT IN (1, 'a', null, undefined)").where
    assert isinstance(where, In) and where.negated
    assert [item.value for item in where.items if isinstance(item, Literal)] == [1, "a", None, UNDEFINED]
    value = parse_query("SELECT VALUE -c.a * 2 + 3 % 2 || 'x' FROM c").select
    assert isinstance(value, SelectValue) and isinstance(value.expr, Binary) and value.expr.op == "||"


def test_functions_and_aggregates() -> None:
    query = parse_query("SELECT VALUE COUNT(1) FROM c WHERE array_contains(c.tags, 'a', true)")
    assert query.aggregates == (Aggregate("COUNT", Literal(1, 20), 0, 14),)
    assert isinstance(query.where, Call) and query.where.name == "ARRAY_CONTAINS"
    query = parse_query("SELECT SUM(c.n) AS s, MIN(c.n) AS lo, {n: MAX(c.n)} AS o FROM c")
    assert [agg.name for agg in query.aggregates] == ["SUM", "MIN", "MAX"]


def test_literals_and_escapes() -> None:
    value = parse_query(r"""SELECT VALUE [1, 2.5, 1e3, 'it\'s', "a\"b", '\u00e9\n', true, false, null] FROM c""")
    assert isinstance(value.select, SelectValue)
    items = value.select.expr.items  # type: ignore[union-attr]
    assert [item.value for item in items] == [1, 2.5, 1000.0, "it's", 'a"b', "é\n", True, False, None]


def test_comments_and_keyword_property_names() -> None:
    query = parse_query("SELECT c.value, c.top -- a comment\nFROM c")
    assert isinstance(query.select, SelectList)
    assert [name for name, _ in query.select.items] == ["value", "top"]


def test_parse_is_cached_by_text() -> None:
    assert parse_query("SELECT * FROM c") is parse_query("SELECT * FROM c")


BAD: list[tuple[str, str]] = [
    ("SELECT * FROM c GROUP BY c.x", "GROUP BY is outside the Cosmos DB query subset Overcast supports "
                                     "(see docs/cosmosdb-queries.md) (at position 17)"),
    ("SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags)", "EXISTS subqueries is outside"),
    ("SELECT ARRAY(SELECT VALUE t FROM t IN c.tags) FROM c", "ARRAY subqueries is outside"),
    ("SELECT * FROM c WHERE udf.f(c.x)", "user-defined functions (udf.*) is outside"),
    ("SELECT * FROM c WHERE ST_DISTANCE(c.a, c.b) < 5", "the function ST_DISTANCE is outside the Cosmos DB query "
                                                        "subset Overcast supports (see docs/cosmosdb-queries.md) "
                                                        "(at position 23)"),
    ("SELECT * FROM c WHERE c.a ?? 1", "the ?? operator is outside"),
    ("SELECT * FROM c WHERE (c.a ? 1 : 2)", "the ? operator is outside"),
    ("SELECT * FROM c WHERE c.a & 1", "the bitwise operator & is outside"),
    ("SELECT * FROM (SELECT * FROM c)", "a subquery in FROM is outside"),
    ("SELECT * FROM c JOIN (SELECT VALUE t FROM t IN c.tags)", "a JOIN over a subquery is outside"),
    ("SELECT * FROM c.children x", "a FROM source with a path"),
    ("SELECT * FROM c WHERE c.tags[@i] = 1", "an index that is not a string or whole-number literal is outside"),
    ("SELECT * FROM c WHERE c.x = (SELECT VALUE 1)", "a subquery is outside"),
    ("SELECT * FROM c JOIN t IN c.tags", "'SELECT *' is only valid with a single input set"),
    ("SELECT * FROM c WHERE d.x = 1", "identifier 'd' could not be resolved: the query binds c (at position 23)"),
    ("SELECT x.id FROM c", "identifier 'x' could not be resolved"),
    ("SELECT * FROM c WHERE", "syntax error: expected a value, found 'end of query' (at position 22)"),
    ("SELECT * c", "'SELECT *' needs a FROM clause (at position 8)"),
    ("SELECT *", "'SELECT *' needs a FROM clause"),
    ("SELECT VALUE 1 WHERE true", "syntax error: expected FROM, found 'WHERE'"),
    ("SELECT * FROM c WHERE c.x = 'abc", "syntax error: an unterminated string literal (at position 29)"),
    ("SELECT * FROM c WHERE c.x # 1", "syntax error: the character '#' (at position 27)"),
    ("SELECT * FROM c ORDER c.x", "syntax error: expected BY, found 'c'"),
    ("SELECT * FROM c LIMIT 5", "LIMIT needs OFFSET before it"),
    ("SELECT TOP 'x' * FROM c", "syntax error: expected a whole number or a @parameter"),
    ("SELECT * FROM c OFFSET 1.5 LIMIT 2", "expected a whole number or a @parameter"),
    ("SELECT c.a, c.a FROM c", "the select list names 'a' twice"),
    ("SELECT COUNT(1), c.id FROM c", "may refer to the document only inside aggregates"),
    ("SELECT * FROM c WHERE COUNT(1) > 1", "the aggregate COUNT is only allowed in the select list"),
    ("SELECT VALUE SUM(MAX(c.x)) FROM c", "an aggregate inside an aggregate"),
    ("SELECT * FROM c WHERE STARTSWITH(c.x)", "STARTSWITH takes 2 or 3 arguments, not 1"),
    ("SELECT * FROM c WHERE IS_DEFINED(c.x, 1)", "IS_DEFINED takes 1 arguments, not 2"),
    ("SELECT * FROM c WHERE c.x NOT = 1", "syntax error: expected IN, BETWEEN or LIKE after NOT"),
    ("SELECT * FROM c JOIN c IN c.tags", "the alias 'c' is bound twice"),
    ("SELECT * FROM c WHERE c.x = 1 extra", "syntax error: expected the end of the query, found 'extra'"),
    (r"SELECT * FROM c WHERE c.x = '\q'", "invalid escape sequence '\\q'"),
    ("SELECT * FROM c WHERE " + " OR ".join(f"c.n = {i}" for i in range(101)),
     "the query nests more than 100 levels deep (a long chain of OR can be written as IN (...))"),
    ("SELECT * FROM c WHERE " + "(" * 600 + "c.n = 1" + ")" * 600, "the query nests more than 100 levels deep"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[text for text, _ in BAD])
def test_errors_name_the_construct_and_where(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)
