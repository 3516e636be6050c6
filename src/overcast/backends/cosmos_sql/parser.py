"""``parse_query``: Cosmos DB SQL text → ``Query``, for Overcast's subset (docs/cosmosdb-queries.md).

A recursive-descent parser over the lexer's tokens. Precedence, loosest first: OR, AND, NOT, comparisons / IN /
BETWEEN / LIKE, ``||``, ``+ -``, ``* / %``, unary ``- +``, property access and indexing. Anything outside the subset
is a ``QueryError`` naming the construct and where it is, never a silent difference."""

from __future__ import annotations

from functools import lru_cache

from overcast.backends.cosmos_sql.lexer import Token, tokenize
from overcast.backends.cosmos_sql.syntax import (
    DOCS_URL,
    ROOT,
    Aggregate,
    ArrayLit,
    Between,
    Binary,
    Call,
    Expr,
    In,
    Index,
    Join,
    Like,
    Literal,
    ObjectLit,
    Param,
    Prop,
    Query,
    Ref,
    Select,
    SelectList,
    SelectStar,
    SelectValue,
    SortKey,
    Unary,
    children,
    depth,
)
from overcast.backends.cosmos_sql.values import UNDEFINED
from overcast.errors import QueryError

#: Scalar functions and how many arguments each takes (min, max).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "ARRAY_CONTAINS": (2, 3), "STARTSWITH": (2, 3), "ENDSWITH": (2, 3), "CONTAINS": (2, 3),
    "IS_DEFINED": (1, 1), "IS_NULL": (1, 1), "IS_STRING": (1, 1), "IS_NUMBER": (1, 1), "IS_BOOL": (1, 1),
    "IS_ARRAY": (1, 1), "IS_OBJECT": (1, 1), "LOWER": (1, 1), "UPPER": (1, 1), "LENGTH": (1, 1),
    "ARRAY_LENGTH": (1, 1),
}
AGGREGATES = frozenset({"COUNT", "SUM", "MIN", "MAX", "AVG"})
_COMPARISONS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_UNSUPPORTED_CLAUSES = {"GROUP": "GROUP BY", "HAVING": "HAVING", "EXISTS": "EXISTS subqueries",
                        "ARRAY": "ARRAY subqueries", "UDF": "user-defined functions (udf.*)"}


def outside_subset(construct: str, pos: int) -> QueryError:
    return QueryError(f"{construct} is outside the Cosmos DB query subset Overcast supports (see {DOCS_URL})", pos)


#: How deeply an expression may nest: evaluating and compiling recurse once per level.
MAX_DEPTH = 100


@lru_cache(maxsize=512)
def parse_query(text: str) -> Query:
    """Parse a query (cached by its text: the bindings run the same text at every invocation)."""
    try:
        query = _Parser(text).query()
    except RecursionError:
        raise QueryError(f"the query nests more than {MAX_DEPTH} levels deep") from None
    select = query.select
    exprs = [query.where, query.source, *(join.source for join in query.joins),
             *(key.expr for key in query.order_by),
             *([select.expr] if isinstance(select, SelectValue) else []),
             *([expr for _, expr in select.items] if isinstance(select, SelectList) else [])]
    for expr in exprs:
        if expr is not None and depth(expr) > MAX_DEPTH:
            raise QueryError(f"the query nests more than {MAX_DEPTH} levels deep (a long chain of OR can be "
                             "written as IN (...))", getattr(expr, "pos", None))
    return query


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.scope: set[str] = set()
        self.aggregates: list[Aggregate] = []
        self.in_aggregate = False
        self.aggregates_allowed = True

    # --- tokens -------------------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.at]

    def advance(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, *words: str) -> Token | None:
        token = self.tok
        if token.kind in ("keyword", "op") and token.text in words:
            self.at += 1
            return token
        return None

    def expect(self, word: str) -> Token:
        token = self.accept(word)
        if token is None:
            raise self.error(f"expected {word}")
        return token

    def error(self, what: str) -> QueryError:
        token = self.tok
        if token.kind == "keyword" and token.text in _UNSUPPORTED_CLAUSES:
            return outside_subset(_UNSUPPORTED_CLAUSES[token.text], token.pos)
        shown = token.text if token.kind != "string" else token.text[:30]
        return QueryError(f"syntax error: {what}, found {shown!r}", token.pos)

    def name(self) -> Token:
        if self.tok.kind != "name":
            raise self.error("expected a name")
        return self.advance()

    # --- the query ----------------------------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect("SELECT")
        distinct = self.accept("DISTINCT") is not None
        top = self.count_value() if self.accept("TOP") else None
        select_start = self.at
        self.skip_select()
        alias, source = "", None
        joins: list[Join] = []
        if self.accept("FROM"):
            alias, source = self.from_clause()
            while join := self.accept("JOIN"):
                joins.append(self.join(join.pos))
        elif self.tok.kind != "end":
            raise self.error("expected FROM")
        after_from = self.at
        self.at = select_start
        select = self.select()
        if alias and self.tok.text != "FROM":
            raise self.error("expected FROM after the select list")
        if not alias and isinstance(select, SelectStar):
            raise QueryError("'SELECT *' needs a FROM clause", select.pos)
        if not alias and self.tok.kind != "end":
            raise self.error("expected FROM")
        self.check_aggregates(select)
        self.at = after_from
        self.aggregates_allowed = False
        where = self.expr() if self.accept("WHERE") else None
        order: list[SortKey] = []
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                expr = self.expr()
                direction = self.accept("ASC", "DESC")
                order.append(SortKey(expr, direction is not None and direction.text == "DESC"))
                if not self.accept(","):
                    break
        offset = limit = None
        if self.accept("OFFSET"):
            offset = self.count_value()
            self.expect("LIMIT")
            limit = self.count_value()
        elif self.tok.text == "LIMIT":
            raise QueryError("syntax error: LIMIT needs OFFSET before it (OFFSET n LIMIT m)", self.tok.pos)
        if self.tok.kind != "end":
            raise self.error("expected the end of the query")
        if isinstance(select, SelectStar) and joins:
            raise QueryError("'SELECT *' is only valid with a single input set: name the values to return "
                             "(SELECT c, t or SELECT VALUE ...) when the query has a JOIN", select.pos)
        return Query(self.text, select, alias, source, tuple(joins), where, tuple(order), distinct, top, offset,
                     limit, tuple(self.aggregates))

    def skip_select(self) -> None:
        """Skip to the FROM that ends the select list (FROM binds the aliases the list refers to), or to the end
        of a query without FROM."""
        depth = 0
        while not (depth == 0 and self.tok.kind == "keyword" and self.tok.text in ("FROM", "WHERE", "ORDER")):
            if self.tok.kind == "end":
                return
            if self.tok.text in ("(", "[", "{"):
                depth += 1
            elif self.tok.text in (")", "]", "}"):
                depth -= 1
            self.advance()

    def count_value(self) -> Literal | Param:
        token = self.advance()
        if token.kind == "number" and isinstance(token.value, int):
            return Literal(token.value, token.pos)
        if token.kind == "param":
            return Param(token.text, token.pos)
        self.at -= 1
        raise self.error("expected a whole number or a @parameter")

    def check_aggregates(self, select: Select) -> None:
        """With an aggregate, every reference to an alias in the select list must be inside one (no GROUP BY)."""
        if not self.aggregates or isinstance(select, SelectStar):
            return
        exprs = [select.expr] if isinstance(select, SelectValue) else [expr for _, expr in select.items]
        for expr in exprs:
            if (ref := _bare_reference(expr)) is not None:
                raise QueryError("a select list with an aggregate may refer to the document only inside aggregates "
                                 "(GROUP BY is outside the supported subset)", ref.pos)

    def select(self) -> Select:
        star = self.accept("*")
        if star:
            return SelectStar(star.pos)
        if self.accept("VALUE"):
            return SelectValue(self.expr())
        items: list[tuple[str, Expr]] = []
        unnamed = 0
        while True:
            expr = self.expr()
            if self.accept("AS"):
                name = self.name().text
            elif self.tok.kind == "name":
                name = self.advance().text
            elif isinstance(expr, Prop):
                name = expr.name
            elif isinstance(expr, Ref):
                name = expr.alias
            else:
                unnamed += 1
                name = f"${unnamed}"
            if any(name == seen for seen, _ in items):
                raise QueryError(f"the select list names '{name}' twice: give one of them another AS name",
                                 getattr(expr, "pos", 0))
            items.append((name, expr))
            if not self.accept(","):
                return SelectList(tuple(items))

    def from_clause(self) -> tuple[str, Expr | None]:
        first = self.tok
        if first.kind == "op" and first.text == "(":
            raise outside_subset("a subquery in FROM", first.pos)
        elif first.kind != "name":
            raise self.error("expected a container name or alias after FROM")
        else:
            self.advance()
        if self.accept("IN"):
            # FROM x IN container.path: x iterates the array at path of each document.
            root = self.name()
            source = self.postfix(Ref(ROOT, root.pos))
            if isinstance(source, Ref):
                raise self.error("expected a property path after IN")
            self.scope = {first.text}
            return first.text, source
        if self.tok.text == "." or self.tok.text == "[":
            raise outside_subset("a FROM source with a path (FROM c.path alias); use FROM x IN c.path", self.tok.pos)
        self.accept("AS")
        alias = self.advance().text if self.tok.kind == "name" else first.text
        self.scope = {alias}
        return alias, None

    def join(self, pos: int) -> Join:
        if self.tok.text == "(":
            raise outside_subset("a JOIN over a subquery", self.tok.pos)
        alias = self.name().text
        self.expect("IN")
        source = self.expr()
        if alias in self.scope:
            raise QueryError(f"the alias '{alias}' is bound twice in FROM / JOIN", pos)
        self.scope.add(alias)
        return Join(alias, source, pos)

    # --- expressions --------------------------------------------------------------------------------------------
    def expr(self) -> Expr:
        left = self.conjunction()
        while token := self.accept("OR"):
            left = Binary("OR", left, self.conjunction(), token.pos)
        if self.tok.text in ("?", "??"):
            raise outside_subset(f"the {self.tok.text} operator", self.tok.pos)
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while token := self.accept("AND"):
            left = Binary("AND", left, self.negation(), token.pos)
        return left

    def negation(self) -> Expr:
        if token := self.accept("NOT"):
            return Unary("NOT", self.negation(), token.pos)
        return self.predicate()

    def predicate(self) -> Expr:
        left = self.concat()
        token = self.tok
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            return Binary(_COMPARISONS[token.text], left, self.concat(), token.pos)
        negated = self.accept("NOT") is not None
        if self.accept("IN"):
            self.expect("(")
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.expect(")")
            return In(left, tuple(items), negated, token.pos)
        if self.accept("BETWEEN"):
            low = self.concat()
            self.expect("AND")
            return Between(left, low, self.concat(), negated, token.pos)
        if self.accept("LIKE"):
            pattern = self.concat()
            escape = self.concat() if self.accept("ESCAPE") else None
            return Like(left, pattern, escape, negated, token.pos)
        if negated:
            self.at -= 1
            raise self.error("expected IN, BETWEEN or LIKE after NOT")
        return left

    def concat(self) -> Expr:
        left = self.additive()
        while token := self.accept("||"):
            left = Binary("||", left, self.additive(), token.pos)
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while token := self.accept("+", "-"):
            left = Binary(token.text, left, self.multiplicative(), token.pos)
        if self.tok.text in ("&", "|", "^", "~"):
            raise outside_subset(f"the bitwise operator {self.tok.text}", self.tok.pos)
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while token := self.accept("*", "/", "%"):
            left = Binary(token.text, left, self.unary(), token.pos)
        return left

    def unary(self) -> Expr:
        if token := self.accept("-", "+"):
            return Unary(token.text, self.unary(), token.pos)
        if self.tok.text == "~":
            raise outside_subset("the bitwise operator ~", self.tok.pos)
        return self.postfix(self.primary())

    def postfix(self, base: Expr) -> Expr:
        while True:
            if token := self.accept("."):
                base = Prop(base, self.name().text if self.tok.kind == "name" else self.keyword_name(), token.pos)
            elif token := self.accept("["):
                inner = self.advance()
                if inner.kind == "string":
                    base = Prop(base, str(inner.value), token.pos)
                elif inner.kind == "number" and isinstance(inner.value, int):
                    base = Index(base, inner.value, token.pos)
                else:
                    raise outside_subset("an index that is not a string or whole-number literal", inner.pos)
                self.expect("]")
            else:
                return base

    def keyword_name(self) -> str:
        """A property may be named like a keyword (c.value, c.top): after a dot it is a name."""
        if self.tok.kind != "keyword":
            raise self.error("expected a property name")
        token = self.advance()
        return self.text[token.pos - 1:token.pos - 1 + len(token.text)]

    def primary(self) -> Expr:
        token = self.advance()
        if token.kind in ("number", "string"):
            return Literal(token.value, token.pos)
        if token.kind == "param":
            return Param(token.text, token.pos)
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL", "UNDEFINED"):
            value = {"TRUE": True, "FALSE": False, "NULL": None, "UNDEFINED": UNDEFINED}[token.text]
            return Literal(value, token.pos)
        if token.kind == "op" and token.text == "(":
            if self.tok.text == "SELECT":
                raise outside_subset("a subquery", self.tok.pos)
            inner = self.expr()
            self.expect(")")
            return inner
        if token.kind == "op" and token.text == "[":
            items: list[Expr] = []
            while not self.accept("]"):
                if items:
                    self.expect(",")
                items.append(self.expr())
            return ArrayLit(tuple(items), token.pos)
        if token.kind == "op" and token.text == "{":
            return self.object_literal(token.pos)
        if token.kind == "name":
            if self.tok.text == "(":
                return self.call(token)
            if token.text not in self.scope:
                raise QueryError(f"identifier '{token.text}' could not be resolved: the query binds "
                                 f"{', '.join(sorted(self.scope)) or 'no alias'}", token.pos)
            return Ref(token.text, token.pos)
        self.at -= 1
        if token.kind == "keyword" and token.text in _UNSUPPORTED_CLAUSES:
            raise outside_subset(_UNSUPPORTED_CLAUSES[token.text], token.pos)
        raise self.error("expected a value")

    def object_literal(self, pos: int) -> ObjectLit:
        pairs: list[tuple[str, Expr]] = []
        while not self.accept("}"):
            if pairs:
                self.expect(",")
            key = self.advance()
            if key.kind not in ("name", "string", "keyword"):
                self.at -= 1
                raise self.error("expected a property name in an object literal")
            self.expect(":")
            name = str(key.value) if key.kind == "string" else self.text[key.pos - 1:key.pos - 1 + len(key.text)]
            pairs.append((name, self.expr()))
        return ObjectLit(tuple(pairs), pos)

    def call(self, token: Token) -> Expr:
        name = token.text.upper()
        self.expect("(")
        if name in AGGREGATES:
            if not self.aggregates_allowed:
                raise QueryError(f"the aggregate {name} is only allowed in the select list", token.pos)
            if self.in_aggregate:
                raise QueryError(f"an aggregate inside an aggregate ({name})", token.pos)
            self.in_aggregate = True
            arg = self.expr()
            self.in_aggregate = False
            self.expect(")")
            aggregate = Aggregate(name, arg, len(self.aggregates), token.pos)
            self.aggregates.append(aggregate)
            return aggregate
        if name not in FUNCTIONS:
            raise outside_subset(f"the function {token.text}", token.pos)
        args: list[Expr] = []
        while not self.accept(")"):
            if args:
                self.expect(",")
            args.append(self.expr())
        least, most = FUNCTIONS[name]
        if not least <= len(args) <= most:
            wanted = str(least) if least == most else f"{least} or {most}"
            raise QueryError(f"{name} takes {wanted} arguments, not {len(args)}", token.pos)
        return Call(name, tuple(args), token.pos)



def _bare_reference(expr: Expr) -> Ref | None:
    """The first alias reference of ``expr`` that is not inside an aggregate."""
    if isinstance(expr, Ref):
        return expr
    if isinstance(expr, Aggregate):
        return None
    for child in children(expr):
        if (found := _bare_reference(child)) is not None:
            return found
    return None
