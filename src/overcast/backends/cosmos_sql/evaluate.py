"""The reference evaluator: a ``Query`` over Python dicts, with Cosmos DB's semantics (undefined vs null,
comparisons undefined across kinds, three-valued AND/OR/NOT, the ORDER BY type order). The memory store runs
queries with it, the tests use it as the oracle for the SQL compilers, and the compilers' results are projected
with it (``project``) once the database has filtered, sorted and paged the rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from overcast.backends.cosmos_sql.functions import FUNCTIONS, like_regex
from overcast.backends.cosmos_sql.parser import parse_query
from overcast.backends.cosmos_sql.syntax import (
    COMPARISONS,
    CONCAT,
    ROOT,
    Aggregate,
    ArrayLit,
    Between,
    Binary,
    Call,
    Expr,
    In,
    Index,
    Like,
    Literal,
    ObjectLit,
    Param,
    Prop,
    Query,
    Ref,
    SelectStar,
    SelectValue,
)
from overcast.backends.cosmos_sql.values import (
    UNDEFINED,
    Descending,
    canonical,
    compare,
    is_number,
    kind_of,
    number_result,
    sort_key,
)
from overcast.errors import QueryError

Parameters = Mapping[str, Any] | Iterable[Mapping[str, Any]] | None
Bindings = dict[str, Any]
T = TypeVar("T")


def normalize_parameters(parameters: Parameters) -> dict[str, Any]:
    """``{"@name": value}`` from a mapping (names with or without ``@``) or the SDK's ``[{"name", "value"}]``."""
    if parameters is None:
        return {}
    if type(parameters) is dict and all(name[:1] == "@" for name in parameters):
        return parameters  # already in shape (the common case: no copy)
    if isinstance(parameters, Mapping):
        pairs = list(parameters.items())
    else:
        pairs = [(str(item["name"]), item.get("value")) for item in parameters]
    return {name if name.startswith("@") else f"@{name}": value for name, value in pairs}


def evaluate(query: Query | str, documents: Iterable[Mapping[str, Any]], parameters: Parameters = None) -> list[Any]:
    """Run ``query`` over ``documents`` (in their order) and return its results as JSON values."""
    parsed = parse_query(query) if isinstance(query, str) else query
    params = normalize_parameters(parameters)
    rows: Iterable[Bindings] = (row for doc in documents for row in expand(parsed, doc, params))
    if not parsed.alias:
        rows = [{}]  # SELECT without FROM: one row, whatever the container holds
    if parsed.where is not None:
        where = parsed.where
        rows = (row for row in rows if value_of(where, row, params) is True)
    if parsed.aggregates:
        return page(parsed, project(parsed, [{}], params, aggregate(parsed, rows, params)), params)
    if parsed.order_by:
        rows = order(parsed, rows, params)
    if parsed.distinct:
        return page(parsed, project(parsed, rows, params), params)
    # TOP / OFFSET / LIMIT count rows, before undefined VALUEs are dropped (so the database can page).
    return project(parsed, page(parsed, list(rows), params), params)


def expand(query: Query, doc: Mapping[str, Any], params: Mapping[str, Any]) -> Iterator[Bindings]:
    """The FROM / JOIN rows of one document: its bindings of every alias."""
    if query.source is None:
        rows: list[Bindings] = [{query.alias: doc}]
    else:
        items = value_of(query.source, {ROOT: doc}, params)
        rows = [{query.alias: item} for item in items] if isinstance(items, list) else []
    for join in query.joins:
        rows = [{**row, join.alias: item} for row in rows
                for item in _as_list(value_of(join.source, row, params))]
    yield from rows


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def order(query: Query, rows: Iterable[Bindings], params: Mapping[str, Any]) -> list[Bindings]:
    def key(row: Bindings) -> tuple[object, ...]:
        keys = (sort_key(value_of(spec.expr, row, params)) for spec in query.order_by)
        return tuple(Descending(k) if spec.descending else k for k, spec in zip(keys, query.order_by, strict=True))
    return sorted(rows, key=key)


def aggregate(query: Query, rows: Iterable[Bindings], params: Mapping[str, Any]) -> list[object]:
    """The value of each aggregate of the select list over the rows."""
    columns: list[list[object]] = [[] for _ in query.aggregates]
    for row in rows:
        for slot, agg in enumerate(query.aggregates):
            if (value := value_of(agg.arg, row, params)) is not UNDEFINED:
                columns[slot].append(value)
    return [combine(agg.name, values) for agg, values in zip(query.aggregates, columns, strict=True)]


def combine(name: str, values: list[object]) -> object:
    """COUNT of defined values; SUM / AVG undefined if any value is not a number; MIN / MAX in the ORDER BY type
    order over null, booleans, numbers and strings (arrays and objects are ignored)."""
    if name == "COUNT":
        return len(values)
    if name in ("SUM", "AVG"):
        if not all(is_number(value) for value in values):
            return UNDEFINED
        total = sum(values)  # type: ignore[arg-type]
        if name == "SUM":
            return total
        return total / len(values) if values else UNDEFINED
    ranked = [value for value in values if kind_of(value) not in ("array", "object")]
    if not ranked:
        return UNDEFINED
    return (min if name == "MIN" else max)(ranked, key=sort_key)


def project(query: Query, rows: Iterable[Bindings], params: Mapping[str, Any],
            aggregates: list[object] | None = None) -> list[Any]:
    """The select list over each row (undefined VALUEs dropped, undefined properties omitted), then DISTINCT."""
    select = query.select
    results: list[Any] = []
    for row in rows:
        if isinstance(select, SelectStar):
            results.append(row[query.alias])
        elif isinstance(select, SelectValue):
            if (value := value_of(select.expr, row, params, aggregates)) is not UNDEFINED:
                results.append(value)
        else:
            item = {}
            for name, expr in select.items:
                if (value := value_of(expr, row, params, aggregates)) is not UNDEFINED:
                    item[name] = value
            results.append(item)
    if query.distinct:
        seen: set[str] = set()
        unique = []
        for result in results:
            if (key := canonical(result)) not in seen:
                seen.add(key)
                unique.append(result)
        results = unique
    return results


def count_value(node: Literal | Param | None, params: Mapping[str, Any], what: str) -> int | None:
    """TOP / OFFSET / LIMIT as a whole number ≥ 0 (a literal or a parameter)."""
    if node is None:
        return None
    value = node.value if isinstance(node, Literal) else param_value(node, params)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise QueryError(f"{what} must be a whole number of 0 or more, not {value!r}", node.pos)
    return value


def page(query: Query, results: list[T], params: Mapping[str, Any]) -> list[T]:
    offset = count_value(query.offset, params, "OFFSET") or 0
    limit = count_value(query.limit, params, "LIMIT")
    top = count_value(query.top, params, "TOP")
    results = results[offset:] if limit is None else results[offset:offset + limit]
    return results if top is None else results[:top]


def param_value(node: Param, params: Mapping[str, Any]) -> Any:
    if node.name not in params:
        raise QueryError(f"the query uses the parameter {node.name} but no value was given for it", node.pos)
    return params[node.name]


def value_of(expr: Expr, row: Bindings, params: Mapping[str, Any], aggregates: list[object] | None = None) -> Any:
    """One expression's value for one row (``UNDEFINED`` when Cosmos DB's is undefined)."""
    if isinstance(expr, Prop):
        base = value_of(expr.base, row, params, aggregates)
        return base.get(expr.name, UNDEFINED) if isinstance(base, dict) else UNDEFINED
    if isinstance(expr, Ref):
        return row.get(expr.alias, UNDEFINED)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Param):
        return param_value(expr, params)
    if isinstance(expr, Binary):
        left = value_of(expr.left, row, params, aggregates)
        right = value_of(expr.right, row, params, aggregates)
        return binary(expr.op, left, right)
    if isinstance(expr, Index):
        base = value_of(expr.base, row, params, aggregates)
        return base[expr.index] if isinstance(base, list) and 0 <= expr.index < len(base) else UNDEFINED
    if isinstance(expr, Call):
        args = tuple(value_of(arg, row, params, aggregates) for arg in expr.args)
        return FUNCTIONS[expr.name](args)
    if isinstance(expr, Between):
        value = value_of(expr.value, row, params, aggregates)
        low = value_of(expr.low, row, params, aggregates)
        high = value_of(expr.high, row, params, aggregates)
        return _not(between(value, low, high)) if expr.negated else between(value, low, high)
    if isinstance(expr, In):
        value = value_of(expr.value, row, params, aggregates)
        found: object = False
        for item in expr.items:
            found = _or(found, compare("=", value, value_of(item, row, params, aggregates)))
        return _not(found) if expr.negated else found
    if isinstance(expr, Like):
        matched = like(value_of(expr.value, row, params, aggregates), value_of(expr.pattern, row, params, aggregates),
                       value_of(expr.escape, row, params, aggregates) if expr.escape is not None else None)
        return _not(matched) if expr.negated else matched
    if isinstance(expr, Aggregate):
        if aggregates is None:
            raise QueryError(f"the aggregate {expr.name} is only allowed in the select list", expr.pos)
        return aggregates[expr.slot]
    if isinstance(expr, ArrayLit):
        items = (value_of(item, row, params, aggregates) for item in expr.items)
        return [item for item in items if item is not UNDEFINED]
    if isinstance(expr, ObjectLit):
        pairs = ((key, value_of(value, row, params, aggregates)) for key, value in expr.pairs)
        return {key: value for key, value in pairs if value is not UNDEFINED}
    operand = value_of(expr.operand, row, params, aggregates)
    if expr.op == "NOT":
        return _not(operand)
    if not is_number(operand):
        return UNDEFINED
    return -operand if expr.op == "-" else operand


def between(value: object, low: object, high: object) -> object:
    return _and(compare(">=", value, low), compare("<=", value, high))


def like(value: object, pattern: object, escape: object) -> object:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return UNDEFINED
    if escape is not None and not (isinstance(escape, str) and len(escape) == 1):
        return UNDEFINED
    return like_regex(pattern, escape).fullmatch(value) is not None


def _bool(value: object) -> object:
    return value if isinstance(value, bool) else UNDEFINED


def _and(left: object, right: object) -> object:
    left, right = _bool(left), _bool(right)
    if left is False or right is False:
        return False
    return True if left is True and right is True else UNDEFINED


def _or(left: object, right: object) -> object:
    left, right = _bool(left), _bool(right)
    if left is True or right is True:
        return True
    return False if left is False and right is False else UNDEFINED


def _not(value: object) -> object:
    return (not value) if isinstance(value, bool) else UNDEFINED


def binary(op: str, left: Any, right: Any) -> Any:
    if op == "AND":
        return _and(left, right)
    if op == "OR":
        return _or(left, right)
    if op in COMPARISONS:
        return compare(op, left, right)
    if op == CONCAT:
        return left + right if isinstance(left, str) and isinstance(right, str) else UNDEFINED
    if not (is_number(left) and is_number(right)):
        return UNDEFINED
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return number_result(left * right)
    if right == 0:
        return UNDEFINED
    if op == "/":
        return number_result(left / right)
    return _fmod(left, right)


def _fmod(left: Any, right: Any) -> Any:
    """``%`` as in JavaScript (the sign of the dividend), which Cosmos DB follows."""
    if isinstance(left, int) and isinstance(right, int):
        result = abs(left) % abs(right)
        return -result if left < 0 else result
    return math.fmod(left, right)

