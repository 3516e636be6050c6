"""The functions' and operators' own documentation examples (queries without FROM), through the evaluator and
through a compiled SQLite statement (one row; the select list is computed from it)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from overcast.backends.cosmos_sql import compile_sqlite, evaluate

CASES: list[tuple[str, list[Any]]] = [
    ("""SELECT VALUE {
        containsItem: ARRAY_CONTAINS(["coats", "jackets", "sweatshirts"], "coats"),
        missingItem: ARRAY_CONTAINS(["coats", "jackets", "sweatshirts"], "hoodies"),
        containsFullMatchObject: ARRAY_CONTAINS([{ category: "shirts", color: "blue" }],
                                                { category: "shirts", color: "blue" }),
        missingFullMatchObject: ARRAY_CONTAINS([{ category: "shirts", color: "blue" }], { category: "shirts" }),
        containsPartialMatchObject: ARRAY_CONTAINS([{ category: "shirts", color: "blue" }],
                                                   { category: "shirts" }, true),
        missingPartialMatchObject: ARRAY_CONTAINS([{ category: "shirts", color: "blue" }],
                                                  { category: "shorts", color: "blue" }, true)
    }""", [{"containsItem": True, "missingItem": False, "containsFullMatchObject": True,
            "missingFullMatchObject": False, "containsPartialMatchObject": True,
            "missingPartialMatchObject": False}]),
    ("""SELECT VALUE {
        startsWithWrongCase: STARTSWITH("AdventureWorks", "adventure"),
        startsWithCorrectCase: STARTSWITH("AdventureWorks", "Adventure"),
        startsWithIgnoreCase: STARTSWITH("AdventureWorks", "adventure", true)
    }""", [{"startsWithWrongCase": False, "startsWithCorrectCase": True, "startsWithIgnoreCase": True}]),
    ("""SELECT VALUE {
        endsWithWrongCase: ENDSWITH("AdventureWorks", "works"),
        endsWithCorrectCase: ENDSWITH("AdventureWorks", "Works"),
        endsWithIgnoreCase: ENDSWITH("AdventureWorks", "works", true)
    }""", [{"endsWithWrongCase": False, "endsWithCorrectCase": True, "endsWithIgnoreCase": True}]),
    ("""SELECT VALUE {
        containsWrongCase: CONTAINS("AdventureWorks", "adventure"),
        containsCorrectCase: CONTAINS("AdventureWorks", "Adventure"),
        containsIgnoreCase: CONTAINS("AdventureWorks", "adventure", true),
        containsEmpty: CONTAINS("AdventureWorks", "")
    }""", [{"containsWrongCase": False, "containsCorrectCase": True, "containsIgnoreCase": True,
            "containsEmpty": True}]),
    ("""SELECT VALUE {
        isObjectDefined: IS_DEFINED({ a: 5 }),
        isPropertyDefined: IS_DEFINED({ a: 5 }.a),
        isUndefinedPropertyDefined: IS_DEFINED({ a: 5 }.b)
    }""", [{"isObjectDefined": True, "isPropertyDefined": True, "isUndefinedPropertyDefined": False}]),
    ("""SELECT VALUE {
        isNull: IS_NULL(null), isBoolNull: IS_NULL(true), isObjectNull: IS_NULL({}),
        isBool: IS_BOOL(false), isNumber: IS_NUMBER(1.5), isNumberString: IS_NUMBER("1"),
        isString: IS_STRING("x"), isArray: IS_ARRAY([]), isObject: IS_OBJECT({}), isArrayObject: IS_OBJECT([])
    }""", [{"isNull": True, "isBoolNull": False, "isObjectNull": False, "isBool": True, "isNumber": True,
            "isNumberString": False, "isString": True, "isArray": True, "isObject": True,
            "isArrayObject": False}]),
    ('SELECT VALUE { lower: LOWER("AdventureWorks"), upper: UPPER("AdventureWorks"), '
     'length: LENGTH("AdventureWorks"), arrayLength: ARRAY_LENGTH([1, 2, 3]), lowerOfNumber: LOWER(1) }',
     [{"lower": "adventureworks", "upper": "ADVENTUREWORKS", "length": 14, "arrayLength": 3}]),
    ('SELECT VALUE { a: 1 = "1", b: null = null, c: 1 < 2, d: "a" < "b", e: [1] = [1], f: [1] != [2], '
     "g: {x: 1} = {x: 1}, h: true > false, i: null < null, j: undefined = undefined }",
     [{"b": True, "c": True, "d": True, "e": True, "g": True, "h": True, "i": False}]),
    ('SELECT VALUE { and1: true AND undefined, and2: false AND undefined, or1: true OR undefined, '
     "or2: false OR undefined, not1: NOT undefined, not2: NOT 1, and3: 1 AND true }",
     [{"and2": False, "or1": True}]),
    ('SELECT VALUE { concat: "a" || "b", plus: 1 + 2.5, minus: 5 - 7, times: 3 * 4, div: 7 / 2, mod: -7 % 3, '
     'divZero: 5 / 0, strPlus: "a" + "b", neg: -(2), numConcat: 1 || "a" }',
     [{"concat": "ab", "plus": 3.5, "minus": -2, "times": 12, "div": 3.5, "mod": -1, "neg": -2}]),
    ('SELECT VALUE { in1: 2 IN (1, 2), in2: "2" IN (1, 2), between: 5 BETWEEN 1 AND 10, '
     'betweenMixed: "5" BETWEEN 1 AND 10, like1: "abc" LIKE "a%", like2: "abc" LIKE "_B_", '
     'like3: "a%c" LIKE "a!%c" ESCAPE "!", like4: 5 LIKE "5" }',
     [{"in1": True, "like1": True, "like2": False, "like3": True, "between": True}]),
    ("SELECT VALUE 5 / 0", []),
    ("SELECT 1 AS one, [1, undefined, 2] AS arr", [{"one": 1, "arr": [1, 2]}]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[" ".join(text.split())[:60] for text, _ in CASES])
def test_without_from(text: str, expected: list[Any]) -> None:
    assert evaluate(text, [{"id": "ignored"}], None) == expected
    db = sqlite3.connect(":memory:")
    compiled = compile_sqlite(text, None, "doc", table="items")
    assert compiled.sql == "SELECT 1"
    assert compiled.results(db.execute(compiled.sql, compiled.params)) == expected
    db.close()
