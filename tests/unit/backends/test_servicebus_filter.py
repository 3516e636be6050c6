"""The SQL filter / action parser and correlation filters of Service Bus rules, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from overcast.backends.servicebus_filter import correlation_filter, parse_sql_action, parse_sql_filter
from overcast.backends.servicebus_store import OutgoingMessage, Rule, route
from overcast.errors import ConfigError

SYS = {"Label": "order", "MessageId": "m-1", "ContentType": "application/json", "DeliveryCount": 1}
USER: dict[str, Any] = {"color": "red", "qty": 5, "price": 2.5, "vip": True, "name": "Alice_1", "empty": ""}

CASES = [
    ("1=1", True),
    ("1=0", False),
    ("color = 'red'", True),
    ("user.color = 'red'", True),
    ("[color] <> 'blue'", True),
    ("color != 'red'", False),
    ("sys.Label = 'order'", True),
    ("sys.label = 'order'", True),  # system property names ignore case
    ("sys.MessageId = 'other'", False),
    ("qty > 4 AND qty <= 5", True),
    ("qty >= 6 OR price < 3", True),
    ("NOT qty = 5", False),
    ("qty * 2 + 1 = 11", True),
    ("qty % 2 = 1", True),
    ("qty / 2 = 2", True),  # integer division, as the broker's
    ("-qty = -5", True),
    ("color IN ('blue', 'red')", True),
    ("color NOT IN ('blue', 'red')", False),
    ("qty IN (1, 2)", False),
    ("name LIKE 'Ali%'", True),
    ("name LIKE 'A_ice%'", True),
    ("name LIKE 'Alice!_1' ESCAPE '!'", True),
    ("name LIKE 'Alice!_2' ESCAPE '!'", False),
    ("name NOT LIKE 'Bob%'", True),
    ("missing IS NULL", True),
    ("color IS NOT NULL", True),
    ("EXISTS(color)", True),
    ("EXISTS(missing)", False),
    ("NOT EXISTS(missing) AND vip = TRUE", True),
    ("vip", True),
    ("missing = 1", False),  # NULL compared is unknown: no match
    ("NOT (missing = 1)", False),  # NOT unknown is still unknown
    ("missing = 1 OR color = 'red'", True),
    ("qty = '5'", False),  # a number never equals a string
    ("(color = 'red' AND (qty = 5 OR qty = 6)) AND sys.ContentType LIKE '%json'", True),
    ("name = 'it''s'", False),
    ("color = 'RED'", False),  # string comparison is exact
    ("empty = ''", True),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_sql_filter(expression: str, expected: bool) -> None:
    assert parse_sql_filter(expression)(SYS, USER) is expected


@pytest.mark.parametrize(("expression", "problem"), [
    ("", "empty"),
    ("color = ", "expected a value"),
    ("color = 'red' AND", "expected a value"),
    ("color 'red'", "unexpected text"),
    ("color IN 'red'", r"expected '\('"),
    ("color LIKE 5", "quoted pattern"),
    ("EXISTS(5)", "property name"),
    ("color = 'red", "unexpected character"),
    ("color NOT 'red'", "IN or LIKE"),
])
def test_sql_filter_errors_say_where(expression: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_sql_filter(expression)


def test_actions_set_and_remove_properties() -> None:
    system, user = {"Label": "a"}, {"qty": 2, "drop": 1}
    parse_sql_action("SET sys.Label = 'b'; SET qty = qty * 10; SET added = 'yes'; REMOVE drop")(system, user)
    assert system == {"Label": "b"} and user == {"qty": 20, "added": "yes"}
    with pytest.raises(ConfigError, match="SET or REMOVE"):
        parse_sql_action("DELETE qty")


@pytest.mark.parametrize(("spec", "expected"), [
    ({"Label": "order"}, True),
    ({"label": "order", "MessageId": "m-1"}, True),
    ({"Label": "other"}, False),
    ({"Properties": {"color": "red", "qty": 5}}, True),
    ({"Properties": {"color": "blue"}}, False),
    ({"Properties": {"missing": None}}, False),
    ({"ContentType": "application/json", "Properties": {"vip": True}}, True),
])
def test_correlation_filter(spec: dict[str, Any], expected: bool) -> None:
    assert correlation_filter(spec)(SYS, USER) is expected


def test_correlation_filter_refuses_unknown_fields() -> None:
    with pytest.raises(ConfigError, match="no field 'Colour'"):
        correlation_filter({"Colour": "red"})


def test_route_gives_one_plain_copy_and_one_per_rule_with_an_action() -> None:
    message = OutgoingMessage(b"x", subject="order", application_properties={"color": "red"})
    rules = [Rule("a", sql="color = 'red'"), Rule("b", sql="1=1"),
             Rule("c", sql="1=1", action="SET sys.Label = 'changed'"),
             Rule("d", sql="color = 'blue'", action="SET x=1")]
    copies = route(rules, message)
    assert [(c.subject, dict(c.application_properties)) for c in copies] == [
        ("order", {"color": "red"}), ("changed", {"color": "red", "RuleName": "c"})]
    assert route([Rule("none", sql="1=0")], message) == []
