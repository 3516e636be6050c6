"""The expression grammar of Overcast's Cosmos DB SQL subset, over the lexer's tokens: ``ExpressionParser``.

Recursive descent; precedence, loosest first: OR, AND, NOT, comparisons / IN / BETWEEN / LIKE, ``||``, ``+ -``,
``* / %``, unary ``- +``, property access and indexing, then literals, parameters, aliases and calls. The clauses
around expressions (SELECT, FROM, JOIN, WHERE, ORDER BY, paging) are ``parser``'s. A construct outside the subset is
a ``QueryError`` from ``outside_subset`` naming it and where it is."""

from __future__ import annotations

from overcast.backends.cosmos_sql.lexer import Token, tokenize
from overcast.backends.cosmos_sql.syntax import (
    ADDITIVE,
    COMPARISON_SPELLINGS,
    CONCAT,
    DOCS_URL,
    MULTIPLICATIVE,
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
    Ref,
    Unary,
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
_UNSUPPORTED_CLAUSES = {"GROUP": "GROUP BY", "HAVING": "HAVING", "EXISTS": "EXISTS subqueries",
                        "ARRAY": "ARRAY subqueries", "UDF": "user-defined functions (udf.*)"}


def outside_subset(construct: str, pos: int) -> QueryError:
    return QueryError(f"{construct} is outside the Cosmos DB query subset Overcast supports (see {DOCS_URL})", pos)


class ExpressionParser:
    """A cursor over one query's tokens and the expression grammar; the state the clauses share with expressions
    (the aliases in scope, the aggregates found) lives here because an expression reads and adds to it."""

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
        if token.kind == "op" and token.text in COMPARISON_SPELLINGS:
            self.advance()
            return Binary(COMPARISON_SPELLINGS[token.text], left, self.concat(), token.pos)
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
        while token := self.accept(CONCAT):
            left = Binary(CONCAT, left, self.additive(), token.pos)
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while token := self.accept(*ADDITIVE):
            left = Binary(token.text, left, self.multiplicative(), token.pos)
        if self.tok.text in ("&", "|", "^", "~"):
            raise outside_subset(f"the bitwise operator {self.tok.text}", self.tok.pos)
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while token := self.accept(*MULTIPLICATIVE):
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
