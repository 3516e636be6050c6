"""``compile_postgresql``: a query as one PostgreSQL statement over a ``jsonb`` column (``#>`` for paths,
``jsonb_typeof`` for kinds, ``jsonb_array_elements`` for JOIN, FROM ... IN and ARRAY_CONTAINS, a POSIX regular
expression for LIKE). Values read from documents and bound literals stay ``jsonb``, so equality is structural and
never confuses kinds; they become native (text, numeric, boolean) only under a check of their kind. Placeholders
are psycopg's ``%(name)s``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from overcast.backends.cosmos_sql.compiled import Binder, CompiledQuery, Shape, Template
from overcast.backends.cosmos_sql.dialect import ALL_KINDS, DEFINED, SQL_COMPARISONS, CompilerTools, Loc, Sx
from overcast.backends.cosmos_sql.evaluate import Parameters
from overcast.backends.cosmos_sql.sqlite import SqliteDialect
from overcast.backends.cosmos_sql.statement import compile_with
from overcast.backends.cosmos_sql.syntax import Query

_POSIX_SPECIAL = set("\\^$.|?*+()[]{}")


def like_posix(pattern: str, escape: str | None) -> str:
    """A LIKE pattern as an anchored POSIX regular expression (PostgreSQL's ``~``, case-sensitive)."""
    out: list[str] = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            literal = pattern[i + 1]
            out.append("\\" + literal if literal in _POSIX_SPECIAL else literal)
            i += 2
            continue
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            body = (body[1:] if negate else body).replace("\\", "\\\\")
            out.append("[" + ("^" if negate else "") + body + "]")
            i = end + 1
            continue
        else:
            out.append("\\" + char if char in _POSIX_SPECIAL else char)
        i += 1
    out.append("$")
    return "".join(out)


class PostgresDialect(SqliteDialect):
    """PostgreSQL: the SQLite dialect's shape with jsonb operators (the text functions, GLOB aside, are alike)."""

    tags = {kind: (kind,) for kind in ("null", "boolean", "number", "string", "array", "object")}
    true = "TRUE"
    false = "FALSE"

    def placeholder(self, name: str) -> str:
        return f"%({name})s"

    def check(self, sql: str, query: Query) -> None:
        pass  # PostgreSQL's limits (max_stack_depth) are far above the parser's nesting limit

    def static(self, compiler: CompilerTools, kind: str, source: Binder) -> Sx:
        if kind == "boolean":
            return Sx(f"{compiler.bind(lambda params: bool(source(params)))}::boolean", frozenset({kind}))
        return Sx(f"{compiler.bind(lambda params: self.bind_json(source(params)))}::jsonb", frozenset({kind}),
                  json=True)

    def bind_json(self, value: object) -> object:
        return json.dumps(value, ensure_ascii=False)

    def exact_equality(self, static: Shape) -> bool:
        return True  # jsonb equality is false across kinds

    def is_true(self, sx: Sx) -> str:
        return f"{sx.value} = 'true'::jsonb"

    def as_boolean(self, sx: Sx) -> str:
        return f"(CASE WHEN {sx.tag} = 'boolean' THEN ({sx.value})::boolean END)"

    def native(self, sx: Sx, kind: str) -> str:
        if not sx.json:
            return sx.value
        if kind == "string":
            return f"({sx.value} #>> '{{}}')"
        if kind == "number":
            return f"({sx.value})::numeric"
        if kind == "boolean":
            return f"({sx.value})::boolean"
        return sx.value

    def _json(self, sx: Sx) -> str:
        return sx.value if sx.json else f"to_jsonb({sx.value})"

    def sort_keys(self, sx: Sx) -> list[str]:
        if not sx.json:
            return [f'{sx.value} COLLATE "C"' if sx.kinds <= {"string", "undefined"} else sx.value]
        # jsonb orders strings by the database's collation; Cosmos DB (and Overcast) by code point.
        return [f"(CASE WHEN {sx.tag or f'jsonb_typeof({sx.value})'} = 'string' THEN {sx.value} #>> '{{}}' END) "
                'COLLATE "C"', sx.value]

    def _base(self, loc: Loc) -> str:
        return f"{loc.element}.value" if loc.element is not None else loc.doc

    def extract(self, loc: Loc, path: str) -> str:
        return f"({self._base(loc)} #> {path})"

    def json_type(self, loc: Loc, path: str) -> str:
        return f"jsonb_typeof({self._base(loc)} #> {path})"

    def element(self, alias: str) -> tuple[str, str]:
        return f"{alias}.value", f"jsonb_typeof({alias}.value)"

    def select_element(self, alias: str) -> list[str]:
        return ["NULL", f"{alias}.value"]

    def path(self, compiler: CompilerTools, loc: Loc) -> str:
        steps = [str(step) for step in loc.steps]
        return f"{compiler.constant(steps)}::text[]"

    def each(self, compiler: CompilerTools, source: Sx, alias: str) -> str:
        # jsonb_array_elements raises on anything but an array: give it an empty one instead.
        array = self._json(source)
        return (f"jsonb_array_elements(CASE WHEN jsonb_typeof({array}) = 'array' THEN {array} "
                f"ELSE '[]'::jsonb END) AS {alias}(value)")

    def compare(self, op: str, kind: str, left: Sx, right: Sx) -> str:
        sql_op = SQL_COMPARISONS[op]
        if kind == "string" and op not in ("=", "!="):
            return f'{self.native(left, kind)} COLLATE "C" {sql_op} {self.native(right, kind)}'
        if not left.json and not right.json:
            return f"{left.value} {sql_op} {right.value}"
        if left.tag is None and right.tag is None and kind in ("string", "number", "boolean"):
            # Nothing read from a document: both kinds are known, so compare natively (a string column such
            # as ``id`` against a parameter then uses the column's index).
            return f"{self.native(left, kind)} {sql_op} {self.native(right, kind)}"
        return f"{self._json(left)} {sql_op} {self._json(right)}"

    def like(self, compiler: CompilerTools, value: Sx, pattern: Binder) -> str:
        regex = compiler.bind(lambda params: like_posix(*pattern(params)))  # type: ignore[misc]
        return f"{self.native(value, 'string')} ~ {regex}"

    def arithmetic(self, op: str, left: str, right: str) -> str:
        if op == "/":
            return f"({left} / NULLIF({right}, 0))"
        if op == "%":
            return f"mod({left}, NULLIF({right}, 0))"
        return f"({left} {op} {right})"

    def aggregate_columns(self, compiler: CompilerTools, name: str, arg: Sx) -> list[str]:
        def when(kinds: frozenset[str] | str, then: str) -> str:
            test = compiler.is_kind(arg, kinds)
            return "NULL" if test == compiler.F else then if test == compiler.T else f"CASE WHEN {test} THEN {then} END"

        if name == "COUNT":
            return [f"COUNT({when(DEFINED, '1')})"]
        number = self.native(arg, "number")
        if name in ("SUM", "AVG"):
            return [f"COUNT({when(DEFINED - {'number'}, '1')})", f"SUM({when('number', number)})",
                    f"COUNT({when('number', '1')})"]
        boolean = "bool_and" if name == "MIN" else "bool_or"
        return [f"MAX({when('null', '1')})", f"{boolean}({when('boolean', self.native(arg, 'boolean'))})",
                f"{name}({when('number', number)})",
                f'{name}({when("string", self.native(arg, "string"))} COLLATE "C")']

    def text_test(self, name: str, text: str, part: str) -> str:
        if name == "STARTSWITH":
            return f"starts_with({text}, {part})"
        if name == "ENDSWITH":
            return f"right({text}, length({part})) = {part}"
        return f"strpos({text}, {part}) > 0"

    def array_length(self, array: Sx) -> str:
        return f"jsonb_array_length({self._json(array)})"

    def is_object(self, alias: str) -> str:
        return f"jsonb_typeof({alias}.value) = 'object'"

    def member(self, compiler: CompilerTools, alias: str, key: str) -> Sx:
        value = f"(CASE WHEN {self.is_object(alias)} THEN {alias}.value -> {compiler.constant(key)}::text END)"
        return Sx(value, ALL_KINDS, tag=f"jsonb_typeof({value})", json=True)


_DIALECT = PostgresDialect()
_TEMPLATES: dict[tuple[object, ...], Template] = {}


def compile_postgresql(query: Query | str, parameters: Parameters, json_column: str, *, table: str,
                       scope: str = "", string_columns: Mapping[str, str] | None = None,
                       document_column: str | None = None) -> CompiledQuery:
    """As ``compile_sqlite``, for PostgreSQL: ``json_column`` is ``jsonb``, placeholders are ``%(name)s``
    (psycopg), ``scope`` may use the store's own ``%(name)s`` parameters, and ``document_column`` (text or jsonb)
    is what ``SELECT *`` returns when given."""
    return compile_with(_DIALECT, _TEMPLATES, query, parameters, json_column, table, scope, string_columns,
                        document_column)
