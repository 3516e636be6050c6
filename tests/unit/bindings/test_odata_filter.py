"""The Azure Table OData filter subset of the table input binding, compiled to a predicate."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from overcast.bindings.odata import compile_filter
from overcast.errors import ConfigError

ENTITY: dict[str, Any] = {
    "PartitionKey": "orders",
    "RowKey": "o'1",
    "Age": 30,
    "Big": 2**40,
    "Price": 9.5,
    "Active": True,
    "Deleted": False,
    "When": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
    "NaiveWhen": datetime(2024, 5, 1, 12, 0),
    "Id": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "Name": "Bob",
    "Nothing": None,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # strings: ordinal and case-sensitive, '' escapes a quote
        ("PartitionKey eq 'orders'", True),
        ("PartitionKey eq 'Orders'", False),
        ("PartitionKey ne 'x'", True),
        ("RowKey eq 'o''1'", True),
        ("Name gt 'Alice'", True),
        ("Name lt 'Alice'", False),
        ("Name ge 'Bob' and Name le 'Bob'", True),
        ("Name eq ''", False),
        # integers (Int32, Int64 with L), doubles; numbers compare across numeric types
        ("Age eq 30", True),
        ("Age ne 30", False),
        ("Age gt 29", True),
        ("Age gt 30", False),
        ("Age ge 30", True),
        ("Age lt 31", True),
        ("Age le 29", False),
        ("Age gt -5", True),
        ("Big eq 1099511627776L", True),
        ("Big gt 2147483647", True),
        ("Age eq 30L", True),
        ("Price eq 9.5", True),
        ("Price lt 10", True),
        ("Price gt 9.49", True),
        ("Price lt 1.5e1", True),
        ("Price eq 9.5d", True),
        # booleans
        ("Active eq true", True),
        ("Active eq false", False),
        ("Deleted eq false", True),
        ("Deleted ne true", True),
        # datetime and guid literals
        ("When eq datetime'2024-05-01T12:00:00Z'", True),
        ("When gt datetime'2024-01-01T00:00:00Z'", True),
        ("When lt datetime'2024-05-01T12:00:00.000001Z'", True),
        ("When eq datetime'2024-05-01T12:00:00.0000000Z'", True),  # 7 digits accepted (the 7th is dropped)
        ("When eq datetime'2024-05-01T14:00:00+02:00'", True),
        ("NaiveWhen eq datetime'2024-05-01T12:00:00Z'", True),  # a naive entity datetime is UTC
        ("When ge datetime'2024-05-01T12:00:00'", True),  # and so is a naive literal
        ("Id eq guid'0f8fad5b-d9cb-469f-a165-70867728950e'", True),
        ("Id eq guid'0F8FAD5B-D9CB-469F-A165-70867728950E'", True),
        ("Id ne guid'00000000-0000-0000-0000-000000000000'", True),
        # a value on the left mirrors the operator
        ("30 eq Age", True),
        ("18 lt Age", True),
        ("31 le Age", False),
        # a missing property, a null, or another type makes the comparison false (ne too)
        ("Missing eq 1", False),
        ("Missing ne 1", False),
        ("Nothing eq 'x'", False),
        ("Age eq '30'", False),
        ("Age ne '30'", False),
        ("Name eq 1", False),
        ("Active eq 1", False),
        ("Age eq true", False),
        ("When eq '2024-05-01T12:00:00Z'", False),
        ("Id eq '0f8fad5b-d9cb-469f-a165-70867728950e'", False),
        ("partitionkey eq 'orders'", False),  # property names are case-sensitive
        # not, and, or, precedence and parentheses
        ("not Age eq 30", False),
        ("not Missing eq 1", True),
        ("not not Age eq 30", True),
        ("Age eq 30 and Name eq 'Bob'", True),
        ("Age eq 30 and Name eq 'Al'", False),
        ("Age eq 1 or Name eq 'Bob'", True),
        ("Age eq 1 or Name eq 'Al'", False),
        ("Name eq 'Bob' or Age eq 0 and Active eq false", True),  # and binds tighter than or
        ("(Name eq 'Bob' or Age eq 0) and Active eq false", False),
        ("not Age eq 1 and Name eq 'Bob'", True),  # not binds tighter than and
        ("not (Age eq 30 and Name eq 'Bob')", False),
        ("not (Age eq 1) and not (Name eq 'Al')", True),
        ("((Age eq 30))", True),
        ("(Age eq 1 or Age eq 30) and (Name eq 'Bob' or Name eq 'Al') and not Deleted eq true", True),
        ("  Age   eq   30  ", True),
    ],
)
def test_filter(text: str, expected: bool) -> None:
    assert compile_filter(text)(ENTITY) is expected


def test_filter_is_reusable_across_entities() -> None:
    adults = compile_filter("Age ge 18 and PartitionKey eq 'p'")
    rows = [{"PartitionKey": "p", "Age": 17}, {"PartitionKey": "p", "Age": 40}, {"PartitionKey": "q", "Age": 40}, {}]
    assert [adults(row) for row in rows] == [False, True, False, False]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of filter; expected a property name or a value"),
        ("Age eq", "unexpected end of filter; expected a property name or a value"),
        ("Age", "unexpected end of filter; expected a comparison operator (eq, ne, gt, ge, lt, le)"),
        ("Age eq 1 and", "unexpected end of filter; expected a property name or a value"),
        ("Age == 1", "unexpected '=' at position 4"),
        ("Age EQ 1", "unexpected 'EQ' at position 4; expected a comparison operator"),  # operators are lower case
        ("Age foo 1", "unexpected 'foo' at position 4; expected a comparison operator"),
        ("(Age eq 1", "unexpected end of filter; expected ')'"),
        ("(Age eq 1 Name eq 'x'", "unexpected 'Name' at position 10; expected ')'"),
        ("Age eq 1)", "unexpected ')' at position 8"),
        ("Age eq 1 Name eq 2", "unexpected 'Name' at position 9"),
        ("and Age eq 1", "unexpected 'and' at position 0; expected a property name or a value"),
        ("Age eq or", "unexpected 'or' at position 7; expected a property name or a value"),
        ("Age eq ()", "unexpected '(' at position 7"),
        ("Name eq 'Bob", "the string starting at position 8 has no closing quote"),
        ("Age eq 1 $", "unexpected '$' at position 9"),
        ("Age eq 12abc", "unexpected '1' at position 7"),
        ("Age eq 3000000000", "the Edm.Int32 literal '3000000000' at position 7 is out of range; append L"),
        ("Big eq 99999999999999999999L", "the Edm.Int64 literal '99999999999999999999L' at position 7 is out of range"),
        ("When eq datetime'yesterday'", "'datetime'yesterday'' at position 8 is not a valid datetime literal"),
        ("Id eq guid'nope'", "'guid'nope'' at position 6 is not a valid guid literal"),
        ("Data eq X'0g'", "'X'0g'' at position 8 is not a valid X literal"),
        ("At eq time'10:00'", "time literals ('time'10:00'' at position 6) are not supported"),
        ("Age eq Price", "the comparison at position 0 compares two properties; compare a property with a value"),
        ("1 eq 1", "the comparison at position 0 compares two values"),
        ("Age eq 1 and (2 eq 'x')", "the comparison at position 14 compares two values"),
    ],
)
def test_filter_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_filter(text)
    assert str(info.value).startswith(f"Invalid table filter '{text}': {message}")


@pytest.mark.parametrize(("text", "matches"), [
    ("Data eq X'00ff'", True), ("Data eq binary'00FF'", True), ("Data ne X'00'", True), ("Data eq X'00'", False),
])
def test_binary_literals_compare_bytes(text: str, matches: bool) -> None:
    assert compile_filter(text)({"Data": b"\x00\xff"}) is matches


@pytest.mark.parametrize("text", ["(" * 5000 + "Age eq 1" + ")" * 5000, "not " * 5000 + "Age eq 1"])
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(ConfigError, match="nesting deeper than 100 levels"):
        compile_filter(text)


def test_moderate_nesting_is_fine() -> None:
    assert compile_filter("(" * 50 + "Age eq 30" + ")" * 50)(ENTITY) is True
    assert compile_filter("not " * 50 + "Age eq 30")(ENTITY) is True
