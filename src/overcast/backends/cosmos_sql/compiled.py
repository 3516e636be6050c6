"""What a SQL compiler hands the store: the statement, its bound parameters, and ``results`` that turns the rows the
database returns into the query's results (the projection, DISTINCT and aggregates' last step run in Python on the
rows returned, never on every item)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from overcast.backends.cosmos_sql.evaluate import Bindings, combine, page, project
from overcast.backends.cosmos_sql.syntax import Query, SelectStar
from overcast.backends.cosmos_sql.values import UNDEFINED, kind_of

#: A bound value computed from the query's parameters (``{"@name": value}``) when the statement runs.
Binder = Callable[[Mapping[str, Any]], object]
#: What the SQL text depends on for one parameter: its kind and the few facts the compiler specialises on.
Shape = tuple[Any, ...]


def shape(value: object) -> Shape:
    if type(value) is str:  # the common case first: this runs for every parameter of every query
        return ("string", value[:1] in ("[", "{"))
    kind = kind_of(value)
    if kind == "string":
        return (kind, str(value)[:1] in ("[", "{"))
    if kind == "number":
        return (kind, value in (0, 1))
    if kind == "object":
        assert isinstance(value, dict)
        return (kind, tuple((key, shape(item)) for key, item in value.items()))
    return (kind,)


@dataclass(frozen=True)
class Column:
    """How one group of selected columns becomes a value: the document, a JOIN element (type, value) or an
    aggregate's partial values."""

    kind: str  # "document" | "element" | "aggregate"
    alias: str = ""
    aggregate: str = ""
    width: int = 1


@dataclass(frozen=True)
class Template:
    """A compiled statement for one query and one set of parameter shapes (cached)."""

    query: Query
    sql: str
    binders: tuple[tuple[str, Binder], ...]
    columns: tuple[Column, ...]
    paged_in_sql: bool


@dataclass(frozen=True)
class CompiledQuery:
    """``sql`` with named placeholders (``:name`` for SQLite, ``%(name)s`` for PostgreSQL) and ``params`` to bind;
    run it, then pass the rows to ``results``."""

    sql: str
    params: dict[str, object]
    template: Template
    parameters: Mapping[str, Any]

    def results(self, rows: Iterable[Sequence[Any]]) -> list[Any]:
        template = self.template
        query = template.query
        if query.aggregates:
            row = next(iter(rows), None)
            values = [] if row is None else list(row)
            aggregates = [_finish(column.aggregate, values[at:at + column.width])
                          for column, at in _offsets(template.columns)]
            return page(query, project(query, [{}], self.parameters, aggregates), self.parameters)
        if isinstance(query.select, SelectStar) and query.source is None and not query.distinct:
            return [json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0] for row in rows]
        bindings = (_bindings(template.columns, row) for row in rows)
        results = project(query, bindings, self.parameters)
        return results if template.paged_in_sql else page(query, results, self.parameters)


def bind(template: Template, parameters: Mapping[str, Any]) -> CompiledQuery:
    return CompiledQuery(template.sql, {name: binder(parameters) for name, binder in template.binders}, template,
                         parameters)


def _offsets(columns: Sequence[Column]) -> list[tuple[Column, int]]:
    out = []
    at = 0
    for column in columns:
        out.append((column, at))
        at += column.width
    return out


def _bindings(columns: Sequence[Column], row: Sequence[Any]) -> Bindings:
    bindings: Bindings = {}
    at = 0
    for column in columns:
        if column.kind == "document":
            value = row[at]
            bindings[column.alias] = json.loads(value) if isinstance(value, str | bytes) else value
        else:
            bindings[column.alias] = decode_element(row[at], row[at + 1])
        at += column.width
    return bindings


def decode_element(tag: str | None, value: Any) -> Any:
    """A JOIN element from its JSON type and SQL value (SQLite's json_each ``type``/``value``; PostgreSQL passes
    the element as jsonb, already a Python value)."""
    if tag is None:
        return value
    if tag in ("array", "object"):
        return json.loads(value) if isinstance(value, str | bytes) else value
    if tag in ("true", "false"):
        return tag == "true"
    if tag == "null":
        return None
    return value


def _finish(name: str, values: list[Any]) -> object:
    """An aggregate's value from the partial values the database computed (see the compilers' ``aggregate``)."""
    parts = [_number(value) for value in values]
    if name == "COUNT":
        return int(parts[0] or 0)
    if name in ("SUM", "AVG"):
        bad, total, count = parts
        if bad:
            return UNDEFINED
        if name == "SUM":
            return total if total is not None else 0
        return total / count if count else UNDEFINED
    has_null, low_bool, number, text = parts
    found: list[object] = []
    if has_null:
        found.append(None)
    if low_bool is not None:
        found.append(bool(low_bool))
    if number is not None:
        found.append(number)
    if text is not None:
        found.append(text)
    if not found:
        return UNDEFINED
    return combine(name, found)


def _number(value: Any) -> Any:
    """PostgreSQL's numeric comes back as a Decimal: an int when whole, else a float (JSON numbers)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
