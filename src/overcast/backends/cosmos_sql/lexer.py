"""Tokens of the Cosmos DB SQL grammar: keywords (any case), identifiers, numbers, strings in single or double
quotes with JSON escapes, ``@parameters`` and operators. Positions are 1-based offsets into the query text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from overcast.errors import QueryError

KEYWORDS = frozenset({
    "SELECT", "VALUE", "DISTINCT", "TOP", "FROM", "IN", "JOIN", "WHERE", "ORDER", "BY", "ASC", "DESC", "OFFSET",
    "LIMIT", "AND", "OR", "NOT", "BETWEEN", "LIKE", "ESCAPE", "AS", "TRUE", "FALSE", "NULL", "UNDEFINED", "GROUP",
    "EXISTS", "ARRAY", "UDF", "HAVING",
})

_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<param>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>\|\||!=|<>|<=|>=|\?\?|[-+*/%=<>()\[\]{},.:?|&^~])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "/": "/", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True)
class Token:
    kind: str  # "keyword" "name" "number" "string" "param" "op" "end"
    text: str  # keywords upper-cased; strings unescaped
    pos: int
    value: object = None  # the number's or string's value


def _unescape(body: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        else:
            raise QueryError(f"invalid escape sequence '\\{code}' in a string literal", pos + i + 1)
    # Join surrogate pairs written as two \\u escapes.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            quote = text[at] in "'\""
            what = "an unterminated string literal" if quote else f"the character {text[at]!r}"
            raise QueryError(f"syntax error: {what}", at + 1)
        kind = match.lastgroup or ""
        word = match.group()
        pos = at + 1
        at = match.end()
        if kind == "space":
            continue
        if kind == "name" and word.upper() in KEYWORDS:
            tokens.append(Token("keyword", word.upper(), pos))
        elif kind == "number":
            number: float = float(word)
            tokens.append(Token("number", word, pos, int(word) if word.isdigit() else number))
        elif kind == "string":
            tokens.append(Token("string", word, pos, _unescape(word[1:-1], pos)))
        else:
            tokens.append(Token(kind, word, pos))
    tokens.append(Token("end", "end of query", len(text) + 1))
    return tokens
