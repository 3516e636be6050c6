"""Which log lines the console shows: host.json logLevel rules, the user level and --verbose (table-driven)."""

from __future__ import annotations

import logging

import pytest

from overcast.observe.logs import CategoryFilter

INFO, DEBUG, WARNING, ERROR = logging.INFO, logging.DEBUG, logging.WARNING, logging.ERROR


@pytest.mark.parametrize(
    ("rules", "user_level", "verbose", "category", "is_user", "level", "shown"),
    [
        ({}, "Information", False, "Function.hello", True, INFO, True),
        ({}, "Information", False, "Function.hello.User", True, DEBUG, False),
        ({}, "Information", False, "Host.Startup", False, INFO, False),
        ({}, "Information", False, "Host.Startup", False, WARNING, True),
        ({}, "Information", True, "Host.Startup", False, INFO, True),
        ({}, "Warning", False, "Function.hello", True, INFO, False),
        ({}, "None", False, "Function.hello", True, ERROR, False),
        ({"default": "Debug"}, "Information", False, "Host.Startup", False, DEBUG, True),
        ({"default": "Error"}, "Information", False, "Function.hello.User", True, WARNING, False),
        ({"Function": "Warning"}, "Information", False, "Function.hello", True, INFO, False),
        ({"Function": "Warning", "Function.hello": "Debug"}, "Information", False, "Function.hello.User", True,
         DEBUG, True),
        ({"Function": "Warning", "Function.hello": "Debug"}, "Information", False, "Function.other", True, INFO,
         False),
        ({"function.HELLO.user": "Trace"}, "Information", False, "Function.hello.User", True, 5, True),
        ({"Host": "None", "default": "Trace"}, "Information", False, "Host.Startup", False, ERROR, False),
    ],
)
def test_category_thresholds(
    rules: dict[str, str], user_level: str, verbose: bool, category: str, is_user: bool, level: int, shown: bool
) -> None:
    threshold = CategoryFilter(rules, user_level, verbose).threshold(category, is_user)
    assert (level >= threshold) is shown
