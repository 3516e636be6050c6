"""The scalar functions of the subset, over Python JSON values (the evaluator's side; the SQL compilers write the
same rules in SQL). A function given the wrong kinds returns ``undefined``, as in Cosmos DB."""

from __future__ import annotations

import re
from collections.abc import Callable

from overcast.backends.cosmos_sql.values import UNDEFINED, canonical, equal, kind_of


def _strings(*values: object) -> bool:
    return all(isinstance(value, str) for value in values)


def _ignore_case(args: tuple[object, ...]) -> bool | None:
    """The optional third argument of STARTSWITH / ENDSWITH / CONTAINS: a boolean, else the call is undefined."""
    if len(args) < 3:
        return False
    return args[2] if isinstance(args[2], bool) else None


def _text_test(test: Callable[[str, str], bool]) -> Callable[[tuple[object, ...]], object]:
    def run(args: tuple[object, ...]) -> object:
        text, part = args[0], args[1]
        fold = _ignore_case(args)
        if not _strings(text, part) or fold is None:
            return UNDEFINED
        assert isinstance(text, str) and isinstance(part, str)
        return test(text.lower(), part.lower()) if fold else test(text, part)
    return run


def contains_item(array: object, item: object, partial: bool) -> bool:
    for element in array if isinstance(array, list) else ():
        if partial and isinstance(item, dict) and isinstance(element, dict):
            if all(key in element and equal(element[key], value) is True for key, value in item.items()):
                return True
        elif equal(element, item) is True:
            return True
    return False


def _array_contains(args: tuple[object, ...]) -> object:
    array, item = args[0], args[1]
    partial = args[2] if len(args) > 2 else False
    if not isinstance(array, list) or not isinstance(partial, bool):
        return UNDEFINED
    return contains_item(array, item, partial)


def _is(kind: str) -> Callable[[tuple[object, ...]], object]:
    return lambda args: kind_of(args[0]) == kind


def _string_map(convert: Callable[[str], object]) -> Callable[[tuple[object, ...]], object]:
    return lambda args: convert(args[0]) if isinstance(args[0], str) else UNDEFINED


FUNCTIONS: dict[str, Callable[[tuple[object, ...]], object]] = {
    "ARRAY_CONTAINS": _array_contains,
    "STARTSWITH": _text_test(lambda text, part: text.startswith(part)),
    "ENDSWITH": _text_test(lambda text, part: text.endswith(part)),
    "CONTAINS": _text_test(lambda text, part: part in text),
    "IS_DEFINED": lambda args: args[0] is not UNDEFINED,
    "IS_NULL": _is("null"),
    "IS_STRING": _is("string"),
    "IS_NUMBER": _is("number"),
    "IS_BOOL": _is("boolean"),
    "IS_ARRAY": _is("array"),
    "IS_OBJECT": _is("object"),
    "LOWER": _string_map(str.lower),
    "UPPER": _string_map(str.upper),
    "LENGTH": _string_map(len),
    "ARRAY_LENGTH": lambda args: len(args[0]) if isinstance(args[0], list) else UNDEFINED,
}


def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """A LIKE pattern as a regular expression: ``%`` any text, ``_`` one character, ``[a-c]`` / ``[^a-c]`` one
    character of (not of) a set; ``escape`` makes the next character literal."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            escaped = "".join(char if char == "-" else re.escape(char) for char in body)
            out.append("[" + ("^" if negate else "") + escaped + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def distinct_key(value: object) -> str:
    return canonical(value)
