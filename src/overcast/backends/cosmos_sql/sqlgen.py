"""The SQL compiler's core, shared by the SQLite and PostgreSQL dialects: ``Compiler`` turns every Cosmos DB
expression and condition into an ``Sx`` (``dialect``), so that the statement keeps Cosmos DB's semantics (undefined
vs null, no comparison across kinds, three-valued logic) and the database filters, sorts and pages the rows. The
statement around them (FROM, JOIN, WHERE, ORDER BY, paging) and its cache are ``statement``'s.

A condition is compiled "for truth" where only true passes (the WHERE clause, and AND / OR under it): there the
cheap value test comes first and the kind check second, so most rows are decided by one JSON lookup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from overcast.backends.cosmos_sql.compiled import Binder, Shape
from overcast.backends.cosmos_sql.dialect import ALL_KINDS, Dialect, Loc, Sx
from overcast.backends.cosmos_sql.expression_parser import outside_subset
from overcast.backends.cosmos_sql.syntax import (
    COMPARISONS,
    CONCAT,
    LOGICAL,
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
    Unary,
)
from overcast.backends.cosmos_sql.values import RANK, UNDEFINED
from overcast.errors import QueryError

_EQUALITY_KINDS = frozenset({"null", "boolean", "number", "string", "array", "object"})
_ORDER_KINDS = frozenset({"null", "boolean", "number", "string"})


@dataclass
class Compiler:
    query: Query
    dialect: Dialect
    shapes: Mapping[str, Shape]
    doc: str
    columns: Mapping[str, str]
    document: str = ""  # the column returned for a whole document, when not the JSON column itself
    binders: list[tuple[str, Binder]] = field(default_factory=list)
    aliases: dict[str, Sx] = field(default_factory=dict)

    # --- bound values ---------------------------------------------------------------------------------------------
    def bind(self, binder: Binder) -> str:
        name = f"cq{len(self.binders)}"
        self.binders.append((name, binder))
        return self.dialect.placeholder(name)

    def constant(self, value: object) -> str:
        return self.bind(lambda _params: value)

    # --- kinds ---------------------------------------------------------------------------------------------------
    def is_kind(self, sx: Sx, kinds: frozenset[str] | str) -> str:
        """SQL: the runtime kind of ``sx`` is one of ``kinds`` ('1' / '0' when known at compile time). May be NULL
        for "no" (a missing path's type is NULL): wrap in ``definite`` where the answer is a value."""
        wanted = frozenset([kinds]) if isinstance(kinds, str) else kinds
        relevant = wanted & sx.kinds
        if not relevant:
            return self.F
        if relevant == sx.kinds:
            return self.T
        if sx.tag is not None:
            if relevant == sx.kinds - {"undefined"}:
                return f"{sx.tag} IS NOT NULL"
            tags = [tag for kind in sorted(relevant - {"undefined"}) for tag in self.dialect.tags[kind]]
            test = f"{sx.tag} IN ({', '.join(repr(tag) for tag in tags)})" if tags else ""
            if "undefined" in relevant:
                return f"({sx.tag} IS NULL OR {test})" if test else f"{sx.tag} IS NULL"
            return test
        # A "maybe" value: one kind, or NULL for undefined.
        return f"{sx.value} IS NULL" if "undefined" in relevant else f"{sx.value} IS NOT NULL"

    @property
    def T(self) -> str:
        return self.dialect.true

    @property
    def F(self) -> str:
        return self.dialect.false

    def conj(self, *terms: str) -> str:
        """AND of SQL conditions, folding the constants."""
        kept = [term for term in terms if term != self.T]
        if self.F in kept:
            return self.F
        if not kept:
            return self.T
        return kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"

    def case(self, guard: str, value: str) -> str:
        """``value`` where ``guard`` holds, else NULL."""
        if guard == self.T:
            return value
        if guard == self.F:
            return "NULL"
        return f"(CASE WHEN {guard} THEN {value} END)"

    def definite(self, test: str) -> str:
        """A test that may be NULL for "no", as a value that is never undefined."""
        return test if test in (self.F, self.T) or test.endswith("IS NOT NULL") else f"COALESCE({test}, {self.F})"

    # --- expressions ---------------------------------------------------------------------------------------------
    def static(self, expr: Expr) -> Sx | None:
        """A literal or parameter (or an array / object literal of them): its kind is known now."""
        found = self._static(expr)
        return None if found is None else self.from_static(*found)

    def from_static(self, shape: Shape, source: Binder) -> Sx:
        kind = shape[0]
        if kind in ("undefined", "null"):
            return Sx("NULL", frozenset({kind}), static=shape, source=source)
        sx = self.dialect.static(self, kind, source)
        return Sx(sx.value, sx.kinds, static=shape, source=source, json=sx.json)

    def _static(self, expr: Expr) -> tuple[Shape, Binder] | None:
        from overcast.backends.cosmos_sql.compiled import shape

        if isinstance(expr, Literal):
            value = expr.value
            return shape(value), lambda _params: value
        if isinstance(expr, Param):
            if expr.name not in self.shapes:
                raise QueryError(f"the query uses the parameter {expr.name} but no value was given for it",
                                 expr.pos)
            name = expr.name
            return self.shapes[name], lambda params: params[name]
        if isinstance(expr, ArrayLit):
            items = [self._static(item) for item in expr.items]
            parts = [part for part in items if part is not None]
            if len(parts) < len(items):
                return None
            return ("array",), lambda params: [v for v in (src(params) for _, src in parts) if v is not UNDEFINED]
        if isinstance(expr, ObjectLit):
            found = [(key, self._static(value)) for key, value in expr.pairs]
            pairs = [(key, part[0], part[1]) for key, part in found if part is not None]
            if len(pairs) < len(found):
                return None
            shapes = tuple((key, item_shape) for key, item_shape, _ in pairs if item_shape[0] != "undefined")
            return ("object", shapes), lambda params: {
                key: v for key, _, src in pairs if (v := src(params)) is not UNDEFINED}
        return None

    def expr(self, expr: Expr) -> Sx:
        if (static := self.static(expr)) is not None:
            return static
        if isinstance(expr, Ref):
            return self.aliases[expr.alias]
        if isinstance(expr, Prop | Index):
            base = self.expr(expr.base)
            if base.loc is None:
                raise outside_subset("a property of a computed value (in the store's SQL)", expr.pos)
            step: str | int = expr.name if isinstance(expr, Prop) else expr.index
            if isinstance(expr, Prop) and base.loc.element is None and not base.loc.steps and expr.name in self.columns:
                return Sx(self.columns[expr.name], frozenset({"string"}))
            return self.located(Loc(base.loc.doc, (*base.loc.steps, step), base.loc.element))
        if isinstance(expr, Binary):
            if expr.op in LOGICAL:
                return self.boolean(self.logic(expr, truth=False))
            if expr.op in COMPARISONS:
                return self.boolean(self.comparison(expr.op, self.expr(expr.left), self.expr(expr.right), False))
            return self.operator(expr)
        if isinstance(expr, Unary):
            operand = self.expr(expr.operand)
            if expr.op == "NOT":
                return self.boolean(f"NOT ({self.bool3(operand)})")
            number = self.operand(operand, "number")
            if number is None:
                return Sx("NULL", frozenset({"undefined"}))
            sign = "-" if expr.op == "-" else ""
            return Sx(f"{sign}({number[0]})", frozenset({"number"} if number[1] else {"number", "undefined"}))
        if isinstance(expr, Between | In | Like):
            return self.boolean(self.condition(expr, truth=False))
        if isinstance(expr, Call):
            return self.dialect.call(self, expr.name, [self.expr(arg) for arg in expr.args], expr)
        if isinstance(expr, Aggregate):
            raise QueryError(f"the aggregate {expr.name} is only allowed in the select list", expr.pos)
        raise outside_subset("an array or object built from document values (in the store's SQL)", expr.pos)

    def located(self, loc: Loc) -> Sx:
        if loc.element is not None and not loc.steps:
            value, tag = self.dialect.element(loc.element)
            return Sx(value, ALL_KINDS, tag=tag, loc=loc, json=True)
        path = self.dialect.path(self, loc)
        return Sx(self.dialect.extract(loc, path), ALL_KINDS, tag=self.dialect.json_type(loc, path), loc=loc,
                  json=True)

    def boolean(self, sql: str) -> Sx:
        return Sx(sql, frozenset({"boolean", "undefined"}))

    def maybe(self, value: str, guard: str, kind: str, *operands: Sx) -> Sx:
        """A value of ``kind`` when ``guard`` holds, else undefined (as it also is when an operand is undefined:
        SQL's NULL goes through the operators and functions used, which is why ``needs`` may leave a check out)."""
        if guard == self.F:
            return Sx("NULL", frozenset({"undefined"}))
        if guard != self.T:
            return Sx(f"CASE WHEN {guard} THEN {value} END", frozenset({kind, "undefined"}))
        if any("undefined" in operand.kinds for operand in operands):
            return Sx(value, frozenset({kind, "undefined"}))
        return Sx(value, frozenset({kind}))

    def needs(self, sx: Sx, kind: str) -> str:
        """The check that ``sx`` is of ``kind`` before an operator or function uses it. A "maybe" value of that
        kind needs none (its NULL makes the result NULL): repeating its SQL in a check at every level of nesting
        would double the statement at each level."""
        if sx.tag is None and sx.kinds == frozenset({kind, "undefined"}):
            return self.T
        return self.is_kind(sx, kind)

    def operator(self, expr: Binary) -> Sx:
        left, right = self.expr(expr.left), self.expr(expr.right)
        kind = "string" if expr.op == CONCAT else "number"
        # Each operand checked on its own (NULL when of another kind), so a chain of operators nests its
        # parentheses only, not a CASE per level (SQLite's parser has a fixed stack).
        a, b = self.operand(left, kind), self.operand(right, kind)
        if a is None or b is None:
            return Sx("NULL", frozenset({"undefined"}))
        value = f"({a[0]} || {b[0]})" if expr.op == CONCAT else self.dialect.arithmetic(expr.op, a[0], b[0])
        certain = a[1] and b[1]
        return Sx(value, frozenset({kind} if certain else {kind, "undefined"}))

    def operand(self, sx: Sx, kind: str) -> tuple[str, bool] | None:
        """An operator's operand as the database's type for ``kind``: (SQL, whether it is certainly defined), the
        SQL NULL where the value is of another kind; None when it never is of ``kind``."""
        guard = self.needs(sx, kind)
        if guard == self.F:
            return None
        native = self.dialect.native(sx, kind)
        if guard == self.T:
            return native, "undefined" not in sx.kinds
        return f"(CASE WHEN {guard} THEN {native} END)", False

    # --- conditions ----------------------------------------------------------------------------------------------
    def bool3(self, sx: Sx) -> str:
        """1 / 0 / NULL: the value as a boolean operand (anything but a boolean is undefined)."""
        if sx.kinds <= {"boolean", "undefined"}:
            return sx.value if sx.kinds != {"undefined"} else "NULL"
        if sx.tag is not None:
            return self.dialect.as_boolean(sx)
        return "NULL"

    def truth(self, sx: Sx) -> str:
        """SQL true exactly when the value is Cosmos DB's true (false or NULL otherwise)."""
        if sx.kinds <= {"boolean", "undefined"}:
            return sx.value if sx.kinds != {"undefined"} else self.F
        if sx.tag is not None:
            return self.dialect.is_true(sx)
        return self.F

    def condition(self, expr: Expr, truth: bool) -> str:
        """A condition's SQL: for truth (only true matters) or three-valued (1 / 0 / NULL for undefined)."""
        if isinstance(expr, Binary) and expr.op in LOGICAL:
            return self.logic(expr, truth)
        if isinstance(expr, Binary) and expr.op in COMPARISONS:
            return self.comparison(expr.op, self.expr(expr.left), self.expr(expr.right), truth)
        if isinstance(expr, Unary) and expr.op == "NOT":
            return f"NOT ({self.condition(expr.operand, truth=False)})"
        if isinstance(expr, Between):
            value = self.expr(expr.value)
            both = self.conj(self.comparison(">=", value, self.expr(expr.low), truth and not expr.negated),
                        self.comparison("<=", value, self.expr(expr.high), truth and not expr.negated))
            return f"NOT ({both})" if expr.negated else both
        if isinstance(expr, In):
            return self.membership(expr, truth and not expr.negated)
        if isinstance(expr, Like):
            value = self.expr(expr.value)
            pattern = self.static(expr.pattern)
            escape = self.static(expr.escape) if expr.escape is not None else None
            if pattern is None or pattern.source is None or (expr.escape is not None and escape is None):
                raise outside_subset("LIKE with a pattern that is not a literal or parameter (in the store's SQL)",
                                     expr.pos)
            if pattern.static != ("string", False) and pattern.static != ("string", True):
                return "NULL"
            if escape is not None and (escape.static is None or escape.static[0] != "string"):
                return "NULL"
            pattern_source, escape_source = pattern.source, escape.source if escape is not None else None
            test = self.dialect.like(self, value, lambda params: (
                pattern_source(params), escape_source(params) if escape_source else None))
            guard = self.needs(value, "string")
            matched = self.conj(test, guard) if truth and not expr.negated else self.case(guard, test)
            return f"NOT ({matched})" if expr.negated else matched
        sx = self.expr(expr)
        return self.truth(sx) if truth else self.bool3(sx)

    def logic(self, expr: Binary, truth: bool) -> str:
        left = self.condition(expr.left, truth)
        right = self.condition(expr.right, truth)
        return f"({left} {expr.op} {right})"

    def membership(self, expr: In, truth: bool) -> str:
        value = self.expr(expr.value)
        items = [self.expr(item) for item in expr.items]
        # Strings that cannot be mistaken for another kind's SQL value: one IN list decides.
        if truth and value.tag is not None and all(item.static == ("string", False) for item in items):
            return f"{value.value} IN ({', '.join(item.value for item in items)})"
        tests = [self.comparison("=", value, item, truth) for item in items]
        found = "(" + " OR ".join(tests) + ")"
        return f"NOT {found}" if expr.negated else found

    def comparison(self, op: str, left: Sx, right: Sx, truth: bool) -> str:
        allowed = _EQUALITY_KINDS if op == "=" else _ORDER_KINDS
        kinds = sorted(left.kinds & right.kinds & allowed, key=RANK.__getitem__)
        cases: list[tuple[str, str]] = []
        for kind in kinds:
            guard = self.conj(self.needs(left, kind), self.needs(right, kind))
            if kind == "null":
                test = self.T if op in ("=", "<=", ">=") else self.F
            else:
                test = self.dialect.compare(op, kind, left, right)
            if truth and kind != "null" and self.exact(op, kind, left, right):
                guard = self.T
            cases.append((guard, test))
        if not cases:
            return self.F if truth else "NULL"
        if truth:
            return "(" + " OR ".join(self.conj(test, guard) for guard, test in cases) + ")"
        if len(cases) == 1:
            return self.case(*cases[0])
        return "(CASE " + " ".join(f"WHEN {guard} THEN {test}" for guard, test in cases) + " END)"

    def exact(self, op: str, kind: str, left: Sx, right: Sx) -> bool:
        """Whether ``left = right`` alone is already false for every other kind (a document value against a
        literal or parameter the dialect's equality cannot confuse with another kind)."""
        static = right.static if left.tag is not None else left.static if right.tag is not None else None
        return op == "=" and static is not None and self.dialect.exact_equality(static)
