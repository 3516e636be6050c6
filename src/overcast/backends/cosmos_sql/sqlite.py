"""``compile_sqlite``: a query as one SQLite statement over a JSON text column, with the JSON1 functions
(``json_extract`` / ``json_type`` for paths, ``json_each`` for JOIN, FROM ... IN and ARRAY_CONTAINS, GLOB for LIKE).
The statement filters, sorts, pages and aggregates in SQLite; ``CompiledQuery.results`` projects the rows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from overcast.backends.cosmos_sql.compiled import Binder, CompiledQuery, Shape, Template
from overcast.backends.cosmos_sql.dialect import ALL_KINDS, DEFINED, SQL_COMPARISONS, CompilerTools, Dialect, Loc, Sx
from overcast.backends.cosmos_sql.evaluate import Parameters
from overcast.backends.cosmos_sql.expression_parser import outside_subset
from overcast.backends.cosmos_sql.statement import compile_with
from overcast.backends.cosmos_sql.syntax import Call, Query
from overcast.errors import QueryError

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KIND_TESTS = {"IS_NULL": "null", "IS_STRING": "string", "IS_NUMBER": "number", "IS_BOOL": "boolean",
               "IS_ARRAY": "array", "IS_OBJECT": "object"}


def json_path(steps: tuple[str | int, ...], pos: int = 0) -> str:
    """SQLite's JSON path text for property / index steps (``.name``, ``."odd name"``, ``[3]``)."""
    out = []
    for step in steps:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _PLAIN_NAME.fullmatch(step):
            out.append(f".{step}")
        elif '"' in step:
            raise outside_subset(f"the property name {step!r} (with a double quote, in the store's SQL)", pos)
        else:
            out.append(f'."{step}"')
    return "".join(out)


def like_glob(pattern: str, escape: str | None) -> str:
    """A LIKE pattern as a GLOB pattern (GLOB is case-sensitive, as Cosmos DB's LIKE is)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            literal = pattern[i + 1]
            out.append(f"[{literal}]" if literal in "*?[" else literal)
            i += 2
            continue
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
        i += 1
    return "".join(out)


class SqliteDialect(Dialect):
    def exact_equality(self, static: Shape) -> bool:
        # json_extract gives arrays and objects as JSON text and booleans as 1 / 0: a string that cannot be such
        # text, or a number other than 0 and 1, equals only its own kind.
        return static == ("string", False) or static == ("number", False)

    tags = {"null": ("null",), "boolean": ("true", "false"), "number": ("integer", "real"), "string": ("text",),
            "array": ("array",), "object": ("object",)}

    def placeholder(self, name: str) -> str:
        return f":{name}"

    def check(self, sql: str, query: Query) -> None:
        # SQLite's parser has a fixed stack: a deeply nested expression (a long chain of arithmetic, dozens of
        # nested functions) is refused at prepare time. Prepared once per statement text on a private in-memory
        # database (where the table does not exist, which is a later error than the parser's).
        import sqlite3

        try:
            _checker().execute(sql)
        except sqlite3.OperationalError as error:
            if "stack overflow" in str(error) or "too large" in str(error) or "too deep" in str(error):
                raise QueryError("the query's expressions nest too deeply for SQLite (" + str(error) + "): "
                                 "split long chains of operators or nested functions", 1) from None
        except sqlite3.Error:
            pass

    def static(self, compiler: CompilerTools, kind: str, source: Binder) -> Sx:
        if kind == "boolean":
            return Sx(compiler.bind(lambda params: 1 if source(params) else 0), frozenset({kind}))
        if kind in ("array", "object"):
            return Sx(compiler.bind(lambda params: self.bind_json(source(params))), frozenset({kind}))
        return Sx(compiler.bind(source), frozenset({kind}))

    def is_true(self, sx: Sx) -> str:
        return f"{sx.tag} = 'true'"

    def as_boolean(self, sx: Sx) -> str:
        return f"(CASE {sx.tag} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"

    def extract(self, loc: Loc, path: str) -> str:
        return f"json_extract({loc.doc}, {path})"

    def json_type(self, loc: Loc, path: str) -> str:
        return f"json_type({loc.doc}, {path})"

    def element(self, alias: str) -> tuple[str, str]:
        return f"{alias}.value", f"{alias}.type"

    def path(self, compiler: CompilerTools, loc: Loc) -> str:
        suffix = json_path(loc.steps)
        if loc.element is None:
            return compiler.constant("$" + suffix)
        return f"({loc.element}.fullkey || {compiler.constant(suffix)})" if suffix else f"{loc.element}.fullkey"

    def each(self, compiler: CompilerTools, source: Sx, alias: str) -> str:
        if source.loc is not None:
            return f"json_each({source.loc.doc}, {self.path(compiler, source.loc)}) AS {alias}"
        return f"json_each({source.value}) AS {alias}"

    def bind_json(self, value: object) -> object:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def compare(self, op: str, kind: str, left: Sx, right: Sx) -> str:
        sql_op = SQL_COMPARISONS[op]
        return f"{left.value} {sql_op} {right.value}"

    def like(self, compiler: CompilerTools, value: Sx, pattern: Binder) -> str:
        return f"{value.value} GLOB {compiler.bind(lambda params: like_glob(*pattern(params)))}"  # type: ignore[misc]

    def arithmetic(self, op: str, left: str, right: str) -> str:
        if op == "/":
            return f"(CAST({left} AS REAL) / {right})"
        if op == "%":
            return f"mod({left}, {right})"
        return f"({left} {op} {right})"

    def aggregate_columns(self, compiler: CompilerTools, name: str, arg: Sx) -> list[str]:
        def when(kinds: frozenset[str] | str, then: str) -> str:
            test = compiler.is_kind(arg, kinds)
            return "NULL" if test == compiler.F else then if test == compiler.T else f"CASE WHEN {test} THEN {then} END"

        if name == "COUNT":
            return [f"COUNT({when(DEFINED, '1')})"]
        if name in ("SUM", "AVG"):
            return [f"COUNT({when(DEFINED - {'number'}, '1')})", f"SUM({when('number', arg.value)})",
                    f"COUNT({when('number', '1')})"]
        return [f"MAX({when('null', '1')})", *(f"{name}({when(kind, arg.value)})"
                                                for kind in ("boolean", "number", "string"))]

    def call(self, compiler: CompilerTools, name: str, args: list[Sx], expr: Call) -> Sx:
        boolean = frozenset({"boolean"})
        if name == "IS_DEFINED":
            return Sx(compiler.definite(compiler.is_kind(args[0], DEFINED)), boolean)
        if name in _KIND_TESTS:
            return Sx(compiler.definite(compiler.is_kind(args[0], _KIND_TESTS[name])), boolean)
        if name in ("LOWER", "UPPER", "LENGTH"):
            kind = "number" if name == "LENGTH" else "string"
            native = self.native(args[0], "string")
            return compiler.maybe(f"{name.lower()}({native})", compiler.needs(args[0], "string"), kind, args[0])
        if name == "ARRAY_LENGTH":
            return compiler.maybe(self.array_length(args[0]), compiler.needs(args[0], "array"), "number", args[0])
        if name == "ARRAY_CONTAINS":
            return self.array_contains(compiler, args, expr)
        text, part = args[0], args[1]
        guard = compiler.conj(compiler.needs(text, "string"), compiler.needs(part, "string"))
        text_sql, part_sql = self.native(text, "string"), self.native(part, "string")
        if len(args) == 3:
            fold = self.flag(compiler, args[2], expr)
            if fold is None:
                return compiler.maybe("NULL", compiler.F, "boolean")
            text_sql = f"(CASE WHEN {fold} THEN lower({text_sql}) ELSE {text_sql} END)"
            part_sql = f"(CASE WHEN {fold} THEN lower({part_sql}) ELSE {part_sql} END)"
        return compiler.maybe(self.text_test(name, text_sql, part_sql), guard, "boolean", text, part)

    def text_test(self, name: str, text: str, part: str) -> str:
        if name == "STARTSWITH":
            return f"substr({text}, 1, length({part})) = {part}"
        if name == "ENDSWITH":
            return f"(length({part}) = 0 OR substr({text}, -length({part})) = {part})"
        return f"instr({text}, {part}) > 0"

    def array_length(self, array: Sx) -> str:
        return f"json_array_length({array.value})"

    def is_object(self, alias: str) -> str:
        return f"{alias}.type = 'object'"

    def member(self, compiler: CompilerTools, alias: str, key: str) -> Sx:
        """Property ``key`` of a json_each element, undefined unless the element is an object."""
        path = compiler.constant("$" + json_path((key,)))
        object_ = self.is_object(alias)
        return Sx(f"(CASE WHEN {object_} THEN json_extract({alias}.value, {path}) END)", ALL_KINDS,
                  tag=f"(CASE WHEN {object_} THEN json_type({alias}.value, {path}) END)", json=True)

    def flag(self, compiler: CompilerTools, arg: Sx, expr: Call) -> str | None:
        """A function's optional boolean argument: its SQL (1/0), None when it is not a boolean (the call is
        undefined); it must be a literal or a parameter."""
        if arg.static is None:
            raise outside_subset(f"{expr.name} with a computed third argument (in the store's SQL)", expr.pos)
        return arg.value if arg.static[0] == "boolean" else None

    def array_contains(self, compiler: CompilerTools, args: list[Sx], expr: Call) -> Sx:
        array, item = args[0], args[1]
        alias = f"cq_e{len(compiler.binders)}"
        value, tag = self.element(alias)
        element = Sx(value, ALL_KINDS, tag=tag, json=True)
        source = self.each(compiler, array, alias)
        full = compiler.comparison("=", element, item, truth=True)
        test = full
        if len(args) == 3:
            partial = self.flag(compiler, args[2], expr)
            if partial is None:
                return compiler.maybe("NULL", compiler.F, "boolean")
            if item.static is not None and item.static[0] == "object" and item.source is not None:
                test = f"(CASE WHEN {partial} THEN {self.partial(compiler, alias, item)} ELSE {full} END)"
        return compiler.maybe(f"EXISTS (SELECT 1 FROM {source} WHERE {test})", compiler.is_kind(array, "array"),
                              "boolean")

    def partial(self, compiler: CompilerTools, alias: str, item: Sx) -> str:
        """An element that is an object with every property of ``item`` (a literal or parameter object)."""
        assert item.static is not None and item.source is not None
        tests = [self.is_object(alias)]
        source = item.source
        for key, member_shape in item.static[1]:
            wanted = compiler.from_static(member_shape, _member(source, key))
            tests.append(compiler.comparison("=", self.member(compiler, alias, key), wanted, truth=True))
        return compiler.conj(*tests)


def _member(source: Binder, key: str) -> Binder:
    return lambda params: source(params)[key]  # type: ignore[index]


_DIALECT = SqliteDialect()


@lru_cache(maxsize=1)
def _checker() -> Any:
    import sqlite3

    return sqlite3.connect(":memory:", check_same_thread=False)


def compile_sqlite(query: Query | str, parameters: Parameters, json_column: str, *, table: str, scope: str = "",
                   string_columns: Mapping[str, str] | None = None,
                   document_column: str | None = None) -> CompiledQuery:
    """The statement for ``query`` over ``table`` (a table name or a parenthesised SELECT), aliased ``cq_t``, whose
    column ``json_column`` holds each document's JSON text. ``scope`` is the store's own condition on ``cq_t``
    (its named parameters are the store's to add to ``params``); ``string_columns`` maps top-level properties
    every document has as a string (``id``) to columns, so ``c.id = @id`` uses the column and its index;
    ``document_column`` is the column returned for a whole document (``SELECT *``) when it is not ``json_column``
    (PostgreSQL's store keeps the text as written beside its jsonb). Raises ``QueryError`` for a malformed query
    or one outside the subset."""
    return compile_with(_DIALECT, _TEMPLATES, query, parameters, json_column, table, scope, string_columns,
                        document_column)


#: Statements by (query, table, columns, parameter shapes): a binding runs the same query at every invocation.
_TEMPLATES: dict[tuple[object, ...], Template] = {}
