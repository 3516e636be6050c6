"""The fast timestamp parse gives exactly what the SDK's dateutil parse gives, and hands everything else to it."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest
from dateutil.parser import parse as dateutil_parse
from hypothesis import given, settings
from hypothesis import strategies as st

from overcast.config.knobs import load_knobs
from overcast.durable import fast_timestamps
from overcast.durable.core.history import format_timestamp
from overcast.durable.fast_timestamps import SDK_PARSER, SWITCH, FastTimestampParser, install, uninstall

from .harness import T0, Harness

HistoryEventModule = importlib.import_module(fast_timestamps.SDK_MODULE)

# Local zones as POSIX TZ strings (no tz database needed), one per branch of dateutil's choice for "Z":
ZONES = [
    "UTC0",  # names UTC/UTC: dateutil gives tzlocal()
    "UTC+3",  # names UTC/UTC at offset -3 h: dateutil still gives tzlocal(), so "Z" is read as local time
    "UTC0UTC,M3.5.0,M10.5.0/3",  # names UTC/UTC with daylight saving: a new tzlocal() each time, as dateutil
    "CET-1CEST,M3.5.0,M10.5.0/3",  # no UTC name: tz.UTC
    "EST5EDT,M3.2.0,M11.1.0",
    "XYZ0UTC,M3.5.0,M10.5.0",  # UTC as only the summer name: left to dateutil
]
ANY_MOMENT = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))


@contextmanager
def local_zone(zone: str) -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


class Spy:
    """dateutil's parse, counting the calls that reach it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> datetime:
        self.calls.append((text, *args, *kwargs.items()))
        return dateutil_parse(text, *args, **kwargs)  # type: ignore[no-any-return]


def outcome(parse: Callable[..., datetime], text: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Everything observable about a parse: the value, its tz object's class, offset, name and fold; or the error."""
    try:
        value = parse(text, *args, **kwargs)
    except Exception as error:
        return ("raised", type(error), str(error))
    return (value, value.replace(tzinfo=None), type(value.tzinfo), value.utcoffset(), value.tzname(), value.fold)


@pytest.fixture(autouse=True)
def sdk_parser_restored() -> Iterator[None]:
    yield
    uninstall()


@pytest.mark.parametrize("zone", ZONES)
@settings(max_examples=300, deadline=None)
@given(moment=ANY_MOMENT)
def test_overcast_timestamps_parse_as_dateutil_parses_them(zone: str, moment: datetime) -> None:
    text = format_timestamp(moment)
    spy = Spy()
    with local_zone(zone):
        fast = outcome(FastTimestampParser(spy), text)
        expected = outcome(dateutil_parse, text)
        utc_named = "UTC" in time.tzname and time.tzname != ("UTC", "UTC")
    assert fast == expected
    assert fast[1] == moment  # the fields themselves are the written ones
    assert len(spy.calls) == (1 if utc_named else 0)  # the fast path served it, except in the ambiguous zone


@pytest.mark.parametrize("zone", ZONES)
@settings(max_examples=200, deadline=None)
@given(first=ANY_MOMENT, second=ANY_MOMENT)
def test_times_compare_and_subtract_as_dateutil_ones_do(zone: str, first: datetime, second: datetime) -> None:
    """The SDK compares and subtracts event times; the shared tz instance must not change any answer."""
    fast_parse = FastTimestampParser(dateutil_parse)
    with local_zone(zone):
        a, b = (fast_parse(format_timestamp(m)) for m in (first, second))
        x, y = (dateutil_parse(format_timestamp(m)) for m in (first, second))
        assert (a < b, a == b, b - a) == (x < y, x == y, y - x)


@settings(max_examples=500, deadline=None)
@given(fields=st.tuples(*(st.integers(0, top) for top in (9999, 99, 99, 99, 99, 99, 9_999_999))))
def test_any_digits_in_overcast_form_give_what_dateutil_gives(fields: tuple[int, ...]) -> None:
    """Month 13, day 31 in June, hour 24, year 0...: both raise the same, or both give the same time."""
    year, month, day, hour, minute, second, fraction = fields
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{fraction:07d}Z"
    assert outcome(FastTimestampParser(dateutil_parse), text) == outcome(dateutil_parse, text)


@pytest.mark.parametrize(
    ("text", "extra"),
    [
        ("2024-01-01T00:00:05Z", {}),  # no fraction
        ("2024-01-01T00:00:05.123456Z", {}),  # six digits, as Python writes
        ("2024-01-01T00:00:05.1234567+02:00", {}),  # an offset
        ("2024-01-01T00:00:05.1234567", {}),  # naive
        ("2024-01-01 00:00:05.1234567Z", {}),  # space instead of T
        ("2024-01-01t00:00:05.1234567z", {}),  # lower case
        ("5-01-01T00:00:00.0000000Z", {}),  # how format_timestamp writes years before 1000
        ("٢٠٢٤-01-01T00:00:05.1234567Z", {}),  # other scripts' digits
        ("2024-01-01T00:00:05.1234567Z", {"dayfirst": True}),  # a caller asking for options
        (b"2024-01-01T00:00:05.1234567Z", {}),  # not a str
        ("", {}),  # dateutil's own error
    ],
)
def test_other_texts_and_calls_go_to_the_original(text: Any, extra: dict[str, Any]) -> None:
    spy = Spy()
    assert outcome(FastTimestampParser(spy), text, **extra) == outcome(dateutil_parse, text, **extra)
    assert len(spy.calls) == 1


def test_install_is_idempotent_and_the_switch_restores_the_original() -> None:
    original = getattr(HistoryEventModule, SDK_PARSER)
    assert not isinstance(original, FastTimestampParser)
    assert install() is True
    fast = getattr(HistoryEventModule, SDK_PARSER)
    assert isinstance(fast, FastTimestampParser) and fast.original is original
    assert install() is True
    assert getattr(HistoryEventModule, SDK_PARSER) is fast  # not wrapped twice
    assert install(False) is False
    assert getattr(HistoryEventModule, SDK_PARSER) is original
    assert install(False) is False
    assert getattr(HistoryEventModule, SDK_PARSER) is original


@pytest.mark.parametrize(("value", "on"), [("0", False), ("false", False), ("OFF", False), ("1", True), ("", True)])
def test_switch_values(value: str, on: bool) -> None:
    assert install(load_knobs({SWITCH: value}).durable_fast_timestamps) is on
    assert isinstance(getattr(HistoryEventModule, SDK_PARSER), FastTimestampParser) is on


def timestamps(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """Returns every current_utc_datetime it sees, as text that shows the tz object's type."""
    seen = [repr(context.current_utc_datetime)]
    for step in range(3):
        yield context.call_activity("step", step)
        seen.append(repr(context.current_utc_datetime))
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    seen.append(repr(context.current_utc_datetime))
    return seen


def run_timestamps() -> tuple[Any, list[dict[str, Any]]]:
    harness = Harness({"timestamps": timestamps}, {"step": lambda value: value},
                      activity_delay=lambda name, value: timedelta(microseconds=123457 * (value + 1)))
    harness.start("timestamps")
    harness.run()
    return harness["inst"].output_value, harness["inst"].history


def test_sdk_replay_sees_the_same_times_with_and_without_the_fast_parse() -> None:
    install(False)
    slow_output, slow_history = run_timestamps()
    assert install() is True
    fast_output, fast_history = run_timestamps()
    assert fast_output == slow_output
    assert fast_history == slow_history
    assert len(fast_output) == 5 and fast_output[0] == repr(dateutil_parse(format_timestamp(T0)))
