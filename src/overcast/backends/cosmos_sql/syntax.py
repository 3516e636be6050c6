"""The parsed form of a Cosmos DB SQL query: immutable nodes, each with its 1-based position in the query text
(so the SQL compilers can name the construct they refuse)."""

from __future__ import annotations

from dataclasses import dataclass

DOCS_URL = "docs/cosmosdb-queries.md"

#: The alias name a ``FROM x IN <container>.path`` source path is rooted at: the document itself.
ROOT = ""

# The binary operators of the subset, by precedence level, loosest first (``Binary.op`` is one of them); the parser
# reads them level by level, the evaluator and the SQL compiler branch on the same groups.
LOGICAL = ("OR", "AND")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
CONCAT = "||"
ADDITIVE = ("+", "-")
MULTIPLICATIVE = ("*", "/", "%")
#: Each way a query may write a comparison, and the operator it is in the tree (``<>`` is ``!=``).
COMPARISON_SPELLINGS = {**{op: op for op in COMPARISONS}, "<>": "!="}


@dataclass(frozen=True)
class Literal:
    value: object  # a Json value or UNDEFINED
    pos: int


@dataclass(frozen=True)
class Param:
    name: str  # with its "@"
    pos: int


@dataclass(frozen=True)
class Ref:
    """An alias bound by FROM or JOIN (or ROOT: the document a FROM ... IN path starts at)."""

    alias: str
    pos: int


@dataclass(frozen=True)
class Prop:
    base: Expr
    name: str
    pos: int


@dataclass(frozen=True)
class Index:
    base: Expr
    index: int
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # "NOT", "-", "+"
    operand: Expr
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # one of LOGICAL, COMPARISONS, CONCAT, ADDITIVE, MULTIPLICATIVE
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True)
class Between:
    value: Expr
    low: Expr
    high: Expr
    negated: bool
    pos: int


@dataclass(frozen=True)
class In:
    value: Expr
    items: tuple[Expr, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class Like:
    value: Expr
    pattern: Expr
    escape: Expr | None
    negated: bool
    pos: int


@dataclass(frozen=True)
class Call:
    name: str  # upper case
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class Aggregate:
    """COUNT / SUM / MIN / MAX / AVG; ``slot`` is its index in ``Query.aggregates``."""

    name: str
    arg: Expr
    slot: int
    pos: int


@dataclass(frozen=True)
class ArrayLit:
    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class ObjectLit:
    pairs: tuple[tuple[str, Expr], ...]
    pos: int


Expr = (Literal | Param | Ref | Prop | Index | Unary | Binary | Between | In | Like | Call | Aggregate | ArrayLit
        | ObjectLit)


@dataclass(frozen=True)
class SelectStar:
    pos: int


@dataclass(frozen=True)
class SelectValue:
    expr: Expr


@dataclass(frozen=True)
class SelectList:
    items: tuple[tuple[str, Expr], ...]  # (output property name, expression)


Select = SelectStar | SelectValue | SelectList


@dataclass(frozen=True)
class Join:
    alias: str
    source: Expr
    pos: int


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: cheap as a cache key (parse_query caches)
class Query:
    """A parsed query. ``alias`` is "" without FROM (one row). ``source`` is None for ``FROM c`` (each document), or
    the path of ``FROM c IN x.path``
    (rooted at ``Ref(ROOT)``). TOP / OFFSET / LIMIT are integer literals or parameters."""

    text: str
    select: Select
    alias: str
    source: Expr | None
    joins: tuple[Join, ...]
    where: Expr | None
    order_by: tuple[SortKey, ...]
    distinct: bool
    top: Literal | Param | None
    offset: Literal | Param | None
    limit: Literal | Param | None
    aggregates: tuple[Aggregate, ...]

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.alias, *(join.alias for join in self.joins))


def children(expr: Expr) -> list[Expr]:
    """The expressions directly inside ``expr``."""
    if isinstance(expr, Prop | Index):
        return [expr.base]
    if isinstance(expr, Unary):
        return [expr.operand]
    if isinstance(expr, Binary):
        return [expr.left, expr.right]
    if isinstance(expr, Between):
        return [expr.value, expr.low, expr.high]
    if isinstance(expr, In):
        return [expr.value, *expr.items]
    if isinstance(expr, Like):
        return [expr.value, expr.pattern, *([expr.escape] if expr.escape is not None else [])]
    if isinstance(expr, Call):
        return list(expr.args)
    if isinstance(expr, ArrayLit):
        return list(expr.items)
    if isinstance(expr, ObjectLit):
        return [value for _, value in expr.pairs]
    if isinstance(expr, Aggregate):
        return [expr.arg]
    return []


def depth(expr: Expr) -> int:
    """How deeply ``expr`` nests (computed without recursion: the point is to refuse what would recurse too far)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest
