"""Cosmos DB's value semantics over Python JSON values: ``undefined``, the kinds, comparisons that are undefined
across kinds, and the ORDER BY type order. The evaluator uses these; the SQL compilers encode the same rules."""

from __future__ import annotations

import json
import math
from typing import Any, Final, Literal


class _Undefined:
    """Cosmos DB's ``undefined``: a missing property, or the result of an operation on the wrong kinds."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()

Kind = Literal["undefined", "null", "boolean", "number", "string", "array", "object"]

#: ORDER BY's order of kinds, ascending (undefined first, as Cosmos DB returns items without the property first).
RANK: dict[str, int] = {"undefined": 0, "null": 1, "boolean": 2, "number": 3, "string": 4, "array": 5, "object": 6}


def kind_of(value: object) -> Kind:
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def canonical(value: object) -> str:
    """A text equal for structurally equal values (object key order and 1 vs 1.0 do not matter)."""
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normal(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    return value


def equal(left: object, right: object) -> bool | _Undefined:
    """``=``: defined for two values of the same kind (objects and arrays structurally), else undefined."""
    kind = kind_of(left)
    if kind == "undefined" or kind != kind_of(right):
        return UNDEFINED
    if kind in ("array", "object"):
        return canonical(left) == canonical(right)
    return left == right


def compare(op: str, left: object, right: object) -> bool | _Undefined:
    """``= != < <= > >=``: undefined across kinds, and for anything but ``=`` on arrays and objects."""
    if op == "=":
        return equal(left, right)
    kind = kind_of(left)
    if kind in ("undefined", "array", "object") or kind != kind_of(right):
        return UNDEFINED
    if kind == "null":
        return op in ("<=", ">=")
    a: Any = left
    b: Any = right
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def sort_key(value: object) -> tuple[int, object]:
    """ORDER BY's key: the kind's rank, then the value (arrays and objects by their canonical text: Cosmos DB
    leaves their order among themselves unspecified)."""
    kind = kind_of(value)
    if kind in ("undefined", "null"):
        return (RANK[kind], 0)
    if kind in ("array", "object"):
        return (RANK[kind], canonical(value))
    if kind == "boolean":
        return (RANK[kind], int(bool(value)))
    return (RANK[kind], value)


class Descending:
    """Wraps a sort key so that Python's ascending sort orders it descending."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[int, object]) -> None:
        self.key = key

    def __lt__(self, other: Descending) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_result(value: float) -> object:
    """An arithmetic result: NaN and infinities are not JSON, so they are undefined."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return UNDEFINED
    return value
