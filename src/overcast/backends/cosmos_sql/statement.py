"""The statement around the compiled expressions: ``compile_with`` parses (or takes) a query, has a
``Compiler`` write its SELECT list, FROM and JOIN items, WHERE, ORDER BY and paging for one table and the
parameters' shapes, checks it with the dialect, caches the template and binds the parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from overcast.backends.cosmos_sql.compiled import Column, CompiledQuery, Template, bind, shape
from overcast.backends.cosmos_sql.dialect import Dialect, Loc, Sx
from overcast.backends.cosmos_sql.evaluate import Parameters, count_value, normalize_parameters
from overcast.backends.cosmos_sql.expression_parser import outside_subset
from overcast.backends.cosmos_sql.parser import parse_query
from overcast.backends.cosmos_sql.sqlgen import Compiler
from overcast.backends.cosmos_sql.syntax import ROOT, Expr, Query, SelectStar
from overcast.backends.cosmos_sql.values import RANK
from overcast.errors import QueryError


def compile_with(dialect: Dialect, templates: dict[tuple[object, ...], Template], query: Query | str,
                 parameters: Parameters, json_column: str, table: str, scope: str,
                 string_columns: Mapping[str, str] | None, document_column: str | None = None) -> CompiledQuery:
    """Bind the cached statement for (query, table, columns, the parameters' shapes), compiling it once."""
    params = normalize_parameters(parameters)
    shapes = tuple([(name, shape(params[name])) for name in (sorted(params) if len(params) > 1 else params)])
    columns = tuple(sorted(string_columns.items()) if len(string_columns) > 1 else string_columns.items()) \
        if string_columns else ()
    key = (query, json_column, table, scope, columns, shapes, document_column)
    template = templates.get(key)
    if template is None:
        for column in (json_column, document_column or "x", *(name for _, name in columns)):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column):
                raise QueryError(f"the column name {column!r} is not a plain SQL name")
        parsed = parse_query(query) if isinstance(query, str) else query
        quoted = {name: f'cq_t."{column}"' for name, column in columns}
        document = f'cq_t."{document_column}"' if document_column else ""
        compiler = Compiler(parsed, dialect, dict(shapes), f'cq_t."{json_column}"', quoted, document)
        template = statement(compiler, table, scope)
        dialect.check(template.sql, parsed)
        if len(templates) >= 512:
            templates.clear()
        templates[key] = template
    return bind(template, params)


def statement(compiler: Compiler, source: str, scope: str) -> Template:
    """The query's statement over the table (or subquery) ``source``, with ``scope`` (SQL) ANDed to its WHERE."""
    query = compiler.query
    tables = [f"{source} AS cq_t"]
    conditions = [f"({scope})"] if scope else []
    selected: list[str] = []
    columns: list[Column] = []
    if query.source is None:
        compiler.aliases[query.alias] = _document(compiler)
    else:
        compiler.aliases[ROOT] = _document(compiler)
        _join(compiler, query.alias, query.source, tables, conditions)
    for join in query.joins:
        _join(compiler, join.alias, join.source, tables, conditions)
    if query.where is not None:
        conditions.append(compiler.condition(query.where, truth=True))
    paged = not query.distinct and not query.aggregates
    if query.aggregates:
        for agg in query.aggregates:
            parts = compiler.dialect.aggregate_columns(compiler, agg.name, compiler.expr(agg.arg))
            selected.extend(parts)
            columns.append(Column("aggregate", aggregate=agg.name, width=len(parts)))
    else:
        if query.source is None:
            selected.append(compiler.dialect.select_document(compiler.document or compiler.doc))
            columns.append(Column("document", query.alias))
        if not isinstance(query.select, SelectStar) or query.source is not None:
            for index, alias in enumerate(query.aliases[1:] if query.source is None else query.aliases):
                parts = compiler.dialect.select_element(f"cq_j{index}")
                selected.extend(parts)
                columns.append(Column("element", alias, width=len(parts)))
    if not query.alias:  # SELECT without FROM: one row (the select list is computed from no document)
        return Template(query, "SELECT 1", tuple(compiler.binders), (), True)
    sql = f"SELECT {', '.join(selected)} FROM {', '.join(tables)}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if query.order_by and not query.aggregates:
        sql += " ORDER BY " + ", ".join(_sort(compiler, spec.expr, spec.descending) for spec in query.order_by)
    if paged:
        sql += _paging(compiler)
    return Template(query, sql, tuple(compiler.binders), tuple(columns), paged)


def _document(compiler: Compiler) -> Sx:
    return Sx(compiler.doc, frozenset({"object"}), loc=Loc(compiler.doc, ()), json=True)


def _join(compiler: Compiler, alias: str, source: Expr, tables: list[str], conditions: list[str]) -> None:
    array = compiler.expr(source)
    if array.loc is None:
        raise outside_subset("a JOIN / IN over a value that is not a document path (in the store's SQL)",
                             getattr(source, "pos", 0))
    name = f"cq_j{len(compiler.aliases) - 1}"
    tables.append(compiler.dialect.each(compiler, array, name))
    conditions.append(compiler.is_kind(array, "array"))
    compiler.aliases[alias] = compiler.located(Loc(array.loc.doc, (), name))


def _sort(compiler: Compiler, expr: Expr, descending: bool) -> str:
    sx = compiler.expr(expr)
    direction = " DESC" if descending else ""
    ranks = " ".join(f"WHEN {compiler.is_kind(sx, kind)} THEN {rank}" for kind, rank in RANK.items()
                     if kind in sx.kinds)
    rank = f"(CASE {ranks} END){direction}, " if len(sx.kinds) > 1 else ""
    return rank + ", ".join(f"{key}{direction}" for key in compiler.dialect.sort_keys(sx))


def _paging(compiler: Compiler) -> str:
    query = compiler.query
    if query.top is None and query.limit is None:
        return ""
    top, offset, limit = query.top, query.offset, query.limit

    def count(params: Mapping[str, Any]) -> int:
        values = [v for v in (count_value(top, params, "TOP"), count_value(limit, params, "LIMIT"))
                  if v is not None]
        return min(values)

    text = f" LIMIT {compiler.bind(count)}"
    if offset is not None:
        text += f" OFFSET {compiler.bind(lambda params: count_value(offset, params, 'OFFSET'))}"
    return text
