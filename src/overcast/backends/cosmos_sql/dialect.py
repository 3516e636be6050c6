"""What the SQL compiler works with and what each database supplies: ``Sx`` (a SQL value with what is known of
its kind), ``Loc`` (where a value is in a document) and ``Dialect`` (the interface SQLite's and PostgreSQL's
compilers implement; ``sqlgen`` and ``statement`` write everything else).

Values in SQL: strings as text, numbers as numbers, booleans as 1/0, arrays and objects as JSON text, null and
undefined as NULL, told apart by the kind. A kind is static (a literal or a parameter: the compiled text depends on
the parameters' kinds, never on their values, which are always bound), read from the JSON (``tag``: the database's
JSON type of a path), or "maybe": a value of one kind, or NULL for undefined (a comparison, a function)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from overcast.backends.cosmos_sql.compiled import Binder, Shape
from overcast.backends.cosmos_sql.syntax import COMPARISONS, Call, Query
from overcast.backends.cosmos_sql.values import RANK

ALL_KINDS = frozenset(RANK)
DEFINED = ALL_KINDS - {"undefined"}
#: Each comparison operator of the tree as SQL writes it.
SQL_COMPARISONS = {**{op: op for op in COMPARISONS}, "!=": "<>"}


@dataclass(frozen=True)
class Loc:
    """Where a value is in a document: ``doc`` (SQL of the JSON column) and a path, either static (``steps``
    from the root) or after a JOIN element's own path (``element``: the json_each alias)."""

    doc: str
    steps: tuple[str | int, ...]
    element: str | None = None


@dataclass(frozen=True)
class Sx:
    value: str
    kinds: frozenset[str]
    tag: str | None = None  # SQL of the JSON type, for values read from a document
    loc: Loc | None = None
    static: Shape | None = None  # the parameter's or literal's shape
    source: Binder | None = None  # the static value, from the parameters
    json: bool = False  # the SQL value is the database's JSON type (PostgreSQL's jsonb), not a native one


class CompilerTools(Protocol):
    """What a dialect may ask of ``sqlgen.Compiler`` while it writes its part of a statement (the compiler, in
    turn, asks the dialect): bound values, kind checks and the folding helpers, named here so the two modules do
    not import each other."""

    binders: list[tuple[str, Binder]]

    @property
    def T(self) -> str: ...

    @property
    def F(self) -> str: ...

    def bind(self, binder: Binder) -> str: ...

    def constant(self, value: object) -> str: ...

    def is_kind(self, sx: Sx, kinds: frozenset[str] | str) -> str: ...

    def conj(self, *terms: str) -> str: ...

    def definite(self, test: str) -> str: ...

    def from_static(self, shape: Shape, source: Binder) -> Sx: ...

    def maybe(self, value: str, guard: str, kind: str, *operands: Sx) -> Sx: ...

    def needs(self, sx: Sx, kind: str) -> str: ...

    def comparison(self, op: str, left: Sx, right: Sx, truth: bool) -> str: ...


class Dialect:
    """What differs between databases; ``sqlgen.Compiler`` and ``statement`` write everything else."""

    tags: Mapping[str, tuple[str, ...]]  # kind → the database's JSON type names
    true = "1"
    false = "0"

    def static(self, compiler: CompilerTools, kind: str, source: Binder) -> Sx:
        """A literal's or parameter's SQL (bound) for a boolean, number, string, array or object."""
        raise NotImplementedError

    def is_true(self, sx: Sx) -> str:
        """SQL: a value read from a document (``sx.tag`` set) is the boolean true."""
        raise NotImplementedError

    def as_boolean(self, sx: Sx) -> str:
        """SQL: a value read from a document as a three-valued boolean (NULL unless it is a boolean)."""
        raise NotImplementedError

    def native(self, sx: Sx, kind: str) -> str:
        """The value as the database's own type for ``kind`` (only used where the kind is checked first)."""
        return sx.value

    def sort_keys(self, sx: Sx) -> list[str]:
        return [sx.value]

    def exact_equality(self, static: Shape) -> bool:
        """Whether ``document value = static`` is false for every document value of another kind."""
        raise NotImplementedError

    def check(self, sql: str, query: Query) -> None:
        """Refuse (``QueryError``) a statement the database could not parse, before the store runs it."""

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def extract(self, loc: Loc, path: str) -> str:
        raise NotImplementedError

    def json_type(self, loc: Loc, path: str) -> str:
        raise NotImplementedError

    def element(self, alias: str) -> tuple[str, str]:
        """(value, tag) SQL of a json_each row."""
        raise NotImplementedError

    def path(self, compiler: CompilerTools, loc: Loc) -> str:
        raise NotImplementedError

    def each(self, compiler: CompilerTools, source: Sx, alias: str) -> str:
        """A table of the elements of the array ``source`` (a FROM item), aliased."""
        raise NotImplementedError

    def bind_json(self, value: object) -> object:
        raise NotImplementedError

    def compare(self, op: str, kind: str, left: Sx, right: Sx) -> str:
        raise NotImplementedError

    def call(self, compiler: CompilerTools, name: str, args: list[Sx], expr: Call) -> Sx:
        raise NotImplementedError

    def like(self, compiler: CompilerTools, value: Sx, pattern: Binder) -> str:
        raise NotImplementedError

    def arithmetic(self, op: str, left: str, right: str) -> str:
        raise NotImplementedError

    def aggregate_columns(self, compiler: CompilerTools, name: str, arg: Sx) -> list[str]:
        raise NotImplementedError

    def select_document(self, doc: str) -> str:
        return doc

    def select_element(self, alias: str) -> list[str]:
        value, tag = self.element(alias)
        return [tag, value]
