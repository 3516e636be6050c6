"""``parse_query``: Cosmos DB SQL text → ``Query``, for Overcast's subset (docs/cosmosdb-queries.md).

The clause grammar (SELECT [DISTINCT] [TOP], FROM / FROM x IN path, JOIN, WHERE, ORDER BY, OFFSET / LIMIT) and the
checks that span clauses (aliases, aggregates, nesting depth); expressions are ``expression_parser``'s. Anything
outside the subset is a ``QueryError`` naming the construct and where it is, never a silent difference."""

from __future__ import annotations

from functools import lru_cache

from overcast.backends.cosmos_sql.expression_parser import ExpressionParser, outside_subset
from overcast.backends.cosmos_sql.syntax import (
    ROOT,
    Aggregate,
    Expr,
    Join,
    Literal,
    Param,
    Prop,
    Query,
    Ref,
    Select,
    SelectList,
    SelectStar,
    SelectValue,
    SortKey,
    children,
    depth,
)
from overcast.errors import QueryError

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


class _Parser(ExpressionParser):
    """The clauses of one query, around the expressions its base class parses."""

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
