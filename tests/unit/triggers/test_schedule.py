"""Timer schedules (§6.3): NCRONTAB/TimeSpan parsing, occurrences, DST, time zones, status and start/run decisions."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from overcast.errors import ConfigError, CronSyntaxError
from overcast.triggers.schedule import (
    MIN,
    NEVER,
    CronSchedule,
    IntervalSchedule,
    parse_schedule,
    resolve_time_zone,
    use_monitor_for,
)
from overcast.triggers.schedule_status import ScheduleStatus, after_run, decide_on_start, timer_request_json

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
BASE = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def u(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


def t(hour: int, minute: int, second: int = 0) -> datetime:
    """A time on the decision tables' day, 2024-01-01 UTC."""
    return u(2024, 1, 1, hour, minute, second)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * * *", [u(2024, 1, 1, 0, 0, 5), u(2024, 1, 1, 0, 0, 10), u(2024, 1, 1, 0, 0, 15)]),
        ("0 */5 * * * *", [u(2024, 1, 1, 0, 5), u(2024, 1, 1, 0, 10), u(2024, 1, 1, 0, 15)]),
        ("0 0 * * * *", [u(2024, 1, 1, 1), u(2024, 1, 1, 2), u(2024, 1, 1, 3)]),
        ("0 30 9 * * 1-5", [u(2024, 1, 1, 9, 30), u(2024, 1, 2, 9, 30), u(2024, 1, 3, 9, 30)]),
        ("0 0 0 1 * *", [u(2024, 2, 1), u(2024, 3, 1), u(2024, 4, 1)]),  # strictly after the base
        ("0 0 12 * * Mon", [u(2024, 1, 1, 12), u(2024, 1, 8, 12), u(2024, 1, 15, 12)]),
        ("0 0 0 13 * 5", [u(2024, 9, 13), u(2024, 12, 13), u(2025, 6, 13)]),  # AND: Fridays that are the 13th
        ("0 0 0 1-7 * Mon", [u(2024, 2, 5), u(2024, 3, 4), u(2024, 4, 1)]),  # first Monday of the month
        ("0 0 0 29 2 *", [u(2024, 2, 29), u(2028, 2, 29), u(2032, 2, 29)]),
        ("0 0 0 31 * *", [u(2024, 1, 31), u(2024, 3, 31), u(2024, 5, 31)]),
        ("0 15 10 * Jan,Jul *", [u(2024, 1, 1, 10, 15), u(2024, 1, 2, 10, 15), u(2024, 1, 3, 10, 15)]),
        ("0 15 10 1 Jan,Jul *", [u(2024, 1, 1, 10, 15), u(2024, 7, 1, 10, 15), u(2025, 1, 1, 10, 15)]),
        ("0 0 0 1 jun *", [u(2024, 6, 1), u(2025, 6, 1), u(2026, 6, 1)]),  # names are case-insensitive
        ("0 0 0 1 Ju *", [u(2024, 6, 1), u(2025, 6, 1), u(2026, 6, 1)]),  # any prefix; the first match wins
        ("0 0 0 * * Monday", [u(2024, 1, 8), u(2024, 1, 15), u(2024, 1, 22)]),
        ("0 0 0 * * Sun", [u(2024, 1, 7), u(2024, 1, 14), u(2024, 1, 21)]),
        ("0 0 0 * * 0", [u(2024, 1, 7), u(2024, 1, 14), u(2024, 1, 21)]),
        ("0 0 0 * * 6,0", [u(2024, 1, 6), u(2024, 1, 7), u(2024, 1, 13)]),
        ("0 0 0 * * 5-1", [u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]),  # NCrontab swaps: 1-5, not Fri..Mon
        ("0 0 0 * * Fri-Sun", [u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]),  # 5-0 swapped: Sun..Fri
        ("0 0 0 * * */0", [u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]),  # a step below 1 counts as 1
        ("0 0 9-17/4 * * *", [u(2024, 1, 1, 9), u(2024, 1, 1, 13), u(2024, 1, 1, 17)]),
        ("0 0 */6 * * *", [u(2024, 1, 1, 6), u(2024, 1, 1, 12), u(2024, 1, 1, 18)]),
        ("5/15 * * * * *", [u(2024, 1, 1, 0, 0, 5), u(2024, 1, 1, 0, 0, 20), u(2024, 1, 1, 0, 0, 35)]),
        ("10,20,30 * * * * *", [u(2024, 1, 1, 0, 0, 10), u(2024, 1, 1, 0, 0, 20), u(2024, 1, 1, 0, 0, 30)]),
        ("59 59 23 31 12 *", [u(2024, 12, 31, 23, 59, 59), u(2025, 12, 31, 23, 59, 59), u(2026, 12, 31, 23, 59, 59)]),
        ("  0  0  12 * * *  ", [u(2024, 1, 1, 12), u(2024, 1, 2, 12), u(2024, 1, 3, 12)]),
        ("*/15 * * * *", [u(2024, 1, 1, 0, 15), u(2024, 1, 1, 0, 30), u(2024, 1, 1, 0, 45)]),  # 5 fields
        ("30 9 * * Sat", [u(2024, 1, 6, 9, 30), u(2024, 1, 13, 9, 30), u(2024, 1, 20, 9, 30)]),
        ("0 0 1 1 *", [u(2025, 1, 1), u(2026, 1, 1), u(2027, 1, 1)]),
        ("00:00:30", [u(2024, 1, 1, 0, 0, 30), u(2024, 1, 1, 0, 1), u(2024, 1, 1, 0, 1, 30)]),
        ("00:05", [u(2024, 1, 1, 0, 5), u(2024, 1, 1, 0, 10), u(2024, 1, 1, 0, 15)]),
        ("1.00:00:00", [u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]),
        ("2", [u(2024, 1, 3), u(2024, 1, 5), u(2024, 1, 7)]),  # a bare number is days, as TimeSpan.Parse reads it
    ],
)
def test_next_three_occurrences(expression: str, expected: list[datetime]) -> None:
    schedule = parse_schedule(expression)
    assert schedule.occurrences(BASE, 3) == expected
    assert schedule.next_after(BASE) == expected[0]
    assert str(schedule) == expression


def test_kinds_and_strictly_after() -> None:
    assert isinstance(parse_schedule("0 * * * * *"), CronSchedule)
    assert isinstance(parse_schedule("00:10:00"), IntervalSchedule)
    every_second = parse_schedule("* * * * * *")
    assert every_second.next_after(u(2024, 1, 1, 10, 0, 0)) == u(2024, 1, 1, 10, 0, 1)
    assert every_second.next_after(BASE + timedelta(microseconds=999_999)) == u(2024, 1, 1, 0, 0, 1)


def test_schedule_that_never_fires() -> None:
    # NCrontab returns DateTime.MaxValue for 30 February: the host loads the function and never runs it.
    schedule = parse_schedule("0 0 0 30 2 *")
    assert schedule.next_after(BASE) == NEVER
    assert schedule.occurrences(BASE, 5) == []


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("0 * * * * *").next_after(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    "expression",
    [
        "* * * *", "* * * * * * *", "60 * * * * *", "0 60 * * * *", "0 0 24 * * *", "0 0 0 0 * *", "0 0 0 32 * *",
        "0 0 0 * 13 *", "0 0 0 * * 7", "0 0 0 * * -1", "0 0 0 L * *", "0 0 0 ? * *", "0 0 0 15W * *",
        "0 0 0 * * 1#2", "0 0 0 * * Funday", "0 0 0 * * Mondays", ",1 * * * * *", "1, * * * * *",
        "*/ * * * * *", "*/2/3 * * * * *", "1-2-3 * * * * *", "0 0 0 * * 1-", "0 0 0 * * Mon-", "abc", "",
        "25:00:00", "00:60:00", "1:2:3:4:5",
    ],
)
def test_invalid_expressions_raise_the_hosts_error(expression: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(expression)
    assert str(caught.value) == (
        f"The schedule expression '{expression}' was not recognized as a valid cron expression or timespan string."
    )


def test_cron_detail_is_chained() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule("0 0 0 * * 7")
    assert isinstance(caught.value.__cause__, CronSyntaxError)
    assert "0-6" in str(caught.value.__cause__)


@pytest.mark.parametrize("expression", ["00:00:00", "-00:05:00", "0"])
def test_non_positive_timespans_are_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"'{expression}' is a TimeSpan of zero or less")):
        parse_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "sub_minute"),
    [
        ("* * * * * *", True),
        ("*/5 * * * * *", True),
        ("0,30 * * * * *", True),
        ("* 0-59 * * * *", True),  # re-formatted as "*", like NCrontab's ToString
        ("0 * * * * *", False),
        ("*/10 0 * * * *", False),  # the host only looks at "X * * * * *" forms
        ("*/10 * * * Jan *", False),
        ("* * * * *", False),
        ("0 */5 * * * *", False),
        ("00:00:30", True),
        ("00:00:59", True),
        ("00:01:00", False),
        ("1.00:00:00", False),
    ],
)
def test_is_sub_minute(expression: str, sub_minute: bool) -> None:
    schedule = parse_schedule(expression)
    assert schedule.is_sub_minute() is sub_minute
    assert use_monitor_for(schedule, True) is not sub_minute
    assert use_monitor_for(schedule, False) is False


def iso(moments: list[datetime]) -> list[str]:
    return [moment.isoformat() for moment in moments]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Spring forward (31 March 2024, 02:00 CET -> 03:00 CEST): 02:30 does not exist and shifts forward.
        ("0 30 2 * * *", datetime(2024, 3, 30, 12, tzinfo=AMS),
         ["2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00", "2024-04-02T02:30:00+02:00"]),
        ("0 */30 * * * *", datetime(2024, 3, 31, 1, 15, tzinfo=AMS),
         ["2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"]),
        # Fall back (27 October 2024, 03:00 CEST -> 02:00 CET): a point-in-time 02:30 runs once, in the first pass.
        ("0 30 2 * * *", datetime(2024, 10, 26, 12, tzinfo=AMS),
         ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00", "2024-10-29T02:30:00+01:00"]),
        ("0 30 2 * * *", datetime(2024, 10, 27, 2, 10, tzinfo=AMS),  # started in the first pass
         ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00", "2024-10-29T02:30:00+01:00"]),
        ("0 30 2 * * *", datetime(2024, 10, 27, 2, 10, fold=1, tzinfo=AMS),  # second pass: assume it ran
         ["2024-10-28T02:30:00+01:00", "2024-10-29T02:30:00+01:00", "2024-10-30T02:30:00+01:00"]),
        ("0 15,45 2 * * *", datetime(2024, 10, 27, 1, tzinfo=AMS),
         ["2024-10-27T02:15:00+02:00", "2024-10-27T02:45:00+02:00", "2024-10-28T02:15:00+01:00"]),
        # Interval schedules run through both passes of the repeated hour.
        ("0 */30 * * * *", datetime(2024, 10, 27, 1, 45, tzinfo=AMS),
         ["2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-27T02:00:00+01:00",
          "2024-10-27T02:30:00+01:00", "2024-10-27T03:00:00+01:00"]),
        # TimeSpans are elapsed time, blind to DST.
        ("01:00:00", datetime(2024, 10, 27, 1, 30, tzinfo=AMS),
         ["2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-27T03:30:00+01:00"]),
    ],
)
def test_daylight_saving_transitions(expression: str, after: datetime, expected: list[str]) -> None:
    assert iso(parse_schedule(expression).occurrences(after, len(expected))) == expected
    assert iso(parse_schedule(expression, AMS).occurrences(after.astimezone(UTC), len(expected))) == expected


def test_zone_given_at_parse_wins_and_results_subtract_exactly() -> None:
    schedule = parse_schedule("0 0 9 * * *", ZoneInfo("America/New_York"))
    assert schedule.next_after(BASE).isoformat() == "2024-01-01T09:00:00-05:00"
    now = datetime(2024, 3, 31, 1, 59, tzinfo=AMS)
    due = parse_schedule("0 0 * * * *").next_after(now)
    assert due.isoformat() == "2024-03-31T03:00:00+02:00"
    assert (due - now).total_seconds() == 60  # a fixed offset, so not wall-clock subtraction within one ZoneInfo


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "UTC"),
        ({"WEBSITE_TIME_ZONE": "UTC"}, "UTC"),
        ({"WEBSITE_TIME_ZONE": "Coordinated Universal Time"}, "UTC"),
        ({"WEBSITE_TIME_ZONE": "Europe/Amsterdam"}, "Europe/Amsterdam"),
        ({"WEBSITE_TIME_ZONE": "Pacific Standard Time"}, "America/Los_Angeles"),
        ({"WEBSITE_TIME_ZONE": "eastern standard time"}, "America/New_York"),
        ({"WEBSITE_TIME_ZONE": "W. Europe Standard Time"}, "Europe/Berlin"),
        ({"WEBSITE_TIME_ZONE": "GMT Standard Time"}, "Europe/London"),
        ({"WEBSITE_TIME_ZONE": "Tokyo Standard Time"}, "Asia/Tokyo"),
        ({"TZ": "Asia/Tokyo"}, "Asia/Tokyo"),
        ({"TZ": ":Europe/London"}, "Europe/London"),
        ({"WEBSITE_TIME_ZONE": "Europe/Paris", "TZ": "Asia/Tokyo"}, "Europe/Paris"),
        ({"WEBSITE_TIME_ZONE": " ", "TZ": "Asia/Tokyo"}, "Asia/Tokyo"),
    ],
)
def test_resolve_time_zone(environ: dict[str, str], expected: str) -> None:
    zone = resolve_time_zone(environ)
    assert (zone is UTC) if expected == "UTC" else (zone == ZoneInfo(expected))


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WEBSITE_TIME_ZONE": "Mars/Olympus_Mons"}, "WEBSITE_TIME_ZONE='Mars/Olympus_Mons' is not a known time "
         "zone; use an IANA name such as 'Europe/Amsterdam'."),
        ({"TZ": "europe/amsterdam"}, "TZ='europe/amsterdam' is not a known time zone; did you mean "
         "'Europe/Amsterdam'?"),
        ({"TZ": "../etc/passwd"}, "TZ='../etc/passwd' is not a known time zone"),
    ],
)
def test_unknown_time_zone(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_time_zone(environ)


NOW = t(10, 2)
EVERY_5 = "0 */5 * * * *"


@pytest.mark.parametrize(
    ("name", "expression", "status", "run_on_startup", "use_monitor", "fire", "past_due", "next_due", "written"),
    [
        ("no status: written", EVERY_5, None, False, True, False, False, t(10, 5),
         ScheduleStatus(MIN, t(10, 5), NOW)),
        ("stored Next in the past", EVERY_5, ScheduleStatus(t(9, 55), t(10, 0), t(9, 55)),
         False, True, True, True, NOW, None),
        ("never ran, Next in the past", EVERY_5, ScheduleStatus(MIN, t(10, 0), t(9, 58)),
         False, True, True, True, NOW, None),
        ("stored Next in the future", EVERY_5, ScheduleStatus(t(10, 0), t(10, 5), t(10, 0)),
         False, True, False, False, t(10, 5), None),
        ("runOnStartup", EVERY_5, ScheduleStatus(t(10, 0), t(10, 5), t(10, 0)),
         True, True, True, False, NOW, None),
        ("runOnStartup unmonitored", EVERY_5, None, True, False, True, False, NOW, None),
        ("unmonitored ignores status", EVERY_5, ScheduleStatus(t(9, 0), t(9, 5), t(9, 0)),
         False, False, False, False, t(10, 5), None),
        ("sub-minute ignores the monitor", "*/10 * * * * *", ScheduleStatus(MIN, t(9, 0), t(9, 0)),
         False, True, False, False, t(10, 2, 10), None),
        ("schedule changed, expected Next passed", EVERY_5,
         ScheduleStatus(t(9, 0), t(10, 0), t(9, 0)),  # was hourly
         False, True, False, False, t(10, 5), ScheduleStatus(MIN, t(10, 5), NOW)),
        ("schedule changed, expected Next ahead", EVERY_5,
         ScheduleStatus(t(10, 1), t(11, 0), t(10, 1)),
         False, True, False, False, t(10, 5),
         ScheduleStatus(MIN, t(10, 5), t(10, 1))),
        ("empty status", EVERY_5, ScheduleStatus(MIN, MIN, MIN), False, True, False, False, t(10, 5),
         ScheduleStatus(MIN, t(10, 5), NOW)),
        ("TimeSpan past due", "00:10:00", ScheduleStatus(t(9, 50), t(10, 0), t(9, 50)),
         False, True, True, True, NOW, None),
    ],
)
def test_decide_on_start(name: str, expression: str, status: ScheduleStatus | None, run_on_startup: bool,
                         use_monitor: bool, fire: bool, past_due: bool, next_due: datetime,
                         written: ScheduleStatus | None) -> None:
    decision = decide_on_start(parse_schedule(expression), status, NOW, run_on_startup, use_monitor)
    assert (decision.fire_now, decision.past_due, decision.next_due) == (fire, past_due, next_due), name
    assert decision.status_to_write == written, name
    assert decision.missed == (status.next if past_due and status else None), name


def test_decide_on_start_reads_a_stored_status_in_the_local_zone() -> None:
    # Ran at 02:30 in the first pass of the repeated hour, restarted in the second pass: nothing is due until the
    # next day, though the stored times carry fixed offsets from JSON.
    stored = ScheduleStatus.from_json(ScheduleStatus(datetime(2024, 10, 27, 2, 30, tzinfo=AMS),
                                                     datetime(2024, 10, 28, 2, 30, tzinfo=AMS),
                                                     datetime(2024, 10, 27, 2, 30, tzinfo=AMS)).to_json())
    now = datetime(2024, 10, 27, 2, 40, fold=1, tzinfo=AMS)
    decision = decide_on_start(parse_schedule("0 30 2 * * *"), stored, now, False, True)
    assert (decision.fire_now, decision.status_to_write) == (False, None)
    assert decision.next_due.isoformat() == "2024-10-28T02:30:00+01:00"


@pytest.mark.parametrize(
    ("name", "expression", "started", "scheduled", "now", "next_due", "status"),
    [
        ("on time", EVERY_5, t(10, 5) + timedelta(milliseconds=200), t(10, 5), t(10, 5, 1), t(10, 10),
         ScheduleStatus(t(10, 5) + timedelta(milliseconds=200), t(10, 10), t(10, 5) + timedelta(milliseconds=200))),
        ("fired a little early: counts from the schedule", EVERY_5, t(10, 4, 59) + timedelta(milliseconds=800),
         t(10, 5), t(10, 5, 1), t(10, 10), ScheduleStatus(t(10, 5), t(10, 10), t(10, 5))),
        ("long run: one catch-up now, no queue", EVERY_5, t(10, 5), t(10, 5), t(10, 17), t(10, 17),
         ScheduleStatus(t(10, 5), t(10, 10), t(10, 5))),
        ("past due / startup run", EVERY_5, t(10, 2), None, t(10, 2, 3), t(10, 5),
         ScheduleStatus(t(10, 2), t(10, 5), t(10, 2))),
        ("TimeSpan from the start", "00:10:00", t(10, 0, 3), t(10, 0), t(10, 0, 9), t(10, 10, 3),
         ScheduleStatus(t(10, 0, 3), t(10, 10, 3), t(10, 0, 3))),
    ],
)
def test_after_run(name: str, expression: str, started: datetime, scheduled: datetime | None, now: datetime,
                   next_due: datetime, status: ScheduleStatus) -> None:
    assert after_run(parse_schedule(expression), started, scheduled, now) == (next_due, status), name


def test_status_json_round_trip() -> None:
    status = ScheduleStatus(datetime(2024, 10, 27, 2, 30, tzinfo=AMS), datetime(2024, 10, 28, 2, 30, tzinfo=AMS),
                            u(2024, 10, 27, 0, 30, 0) + timedelta(microseconds=123456))
    text = status.to_json()
    assert json.loads(text) == {"Last": "2024-10-27T02:30:00+02:00", "Next": "2024-10-28T02:30:00+01:00",
                                "LastUpdated": "2024-10-27T00:30:00.123456+00:00"}
    assert ScheduleStatus.from_json(text) == status
    assert ScheduleStatus.from_json(text.encode()) == status
    assert ScheduleStatus.from_json(status.to_dict()) == status
    first = ScheduleStatus(MIN, u(2024, 1, 1, 10, 5), NOW)
    assert json.loads(first.to_json())["Last"] == "0001-01-01T00:00:00+00:00"
    assert ScheduleStatus.from_json(first.to_json()).last == MIN


def test_status_from_host_json() -> None:
    # The host's own blobs: 7 fraction digits, "Z", local DateTime.MinValue, missing keys (Newtonsoft: MinValue).
    status = ScheduleStatus.from_json('{"Last":"0001-01-01T01:00:00+01:00","Next":"2016-10-04T10:20:00.1234567Z"}')
    assert status.last == MIN and status.last_updated == MIN
    assert status.next == u(2016, 10, 4, 10, 20) + timedelta(microseconds=123456)
    assert ScheduleStatus.from_json('{"Next":"2016-10-04T10:20:00.5"}').next == u(2016, 10, 4, 10, 20, 0) + timedelta(
        milliseconds=500)  # naive reads as UTC


@pytest.mark.parametrize("raw", ["not json", "[]", '{"Next": 5}', '{"Next": "yesterday"}'])
def test_status_garbage_raises_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match="schedule status"):
        ScheduleStatus.from_json(raw)


def test_status_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScheduleStatus(MIN, datetime(2024, 1, 1), MIN)


@pytest.mark.parametrize("past_due", [True, False])
def test_timer_request_decodes_in_the_library(past_due: bool) -> None:
    from azure.functions import meta

    status = ScheduleStatus(MIN, u(2024, 1, 1, 10, 5), NOW)
    converter = meta.get_binding_registry().get("timerTrigger")  # type: ignore[no-untyped-call]
    request = converter.decode(meta.Datum(timer_request_json(past_due, status), "json"), trigger_metadata={})
    assert request.past_due is past_due
    assert request.schedule_status == {"Last": "0001-01-01T00:00:00+00:00", "Next": "2024-01-01T10:05:00+00:00",
                                       "LastUpdated": "2024-01-01T10:02:00+00:00"}
    assert request.schedule == {"AdjustForDST": True}
    unmonitored = converter.decode(meta.Datum(timer_request_json(past_due, None, parse_schedule("00:00:10")), "json"),
                                   trigger_metadata={})
    assert (unmonitored.past_due, unmonitored.schedule_status, unmonitored.schedule) == (
        past_due, {}, {"AdjustForDST": False})


def test_timer_request_json_shape() -> None:
    expected = '{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}'
    assert timer_request_json(False, None) == expected
