"""Timer schedules (§6.3): NCRONTAB and TimeSpan parsing, next occurrences with the host's DST rules, the time zone,
next occurrences with the host's DST rules. Pure: no I/O, no clock, no sleeping. The persisted status and the
listener's decisions are in ``schedule_status``.

The cron parser is our own, not croniter: NCrontab differs from Vixie cron (and croniter) in ways apps can observe --
day-of-month AND day-of-week, reversed ranges swapped (``Fri-Sun`` = Sun..Fri), any name prefix (``Ju`` = June),
``*/0`` allowed, ``7``/``?``/``L`` rejected -- and the host's DST handling has to be layered on top anyway.
Returned datetimes carry a fixed UTC offset (like .NET's DateTimeOffset) so that subtracting them from a ZoneInfo
``now`` is exact across DST; Python ignores offsets when both sides share one ZoneInfo object.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
import re
from abc import ABC, abstractmethod
from datetime import MAXYEAR, date, datetime, timedelta, timezone, tzinfo

from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError, CronSyntaxError
from overcast.triggers.timezones import resolve_time_zone as resolve_time_zone  # re-exported

UTC = timezone.utc
MIN = datetime.min.replace(tzinfo=UTC)  # .NET DateTime.MinValue: the status "Last" of a timer that never ran
NEVER = datetime.max.replace(tzinfo=UTC)  # the next occurrence of a schedule that cannot fire (e.g. 30 February)
_NOT_RECOGNIZED = "The schedule expression '{}' was not recognized as a valid cron expression or timespan string."
_MAX_TIMESPAN_SECONDS = 10675199 * 86400.0  # .NET TimeSpan.MaxValue (whole days); beyond it TryParse fails
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # longest length, so 29 February is reachable

# NCrontab's fields: name, minimum, maximum, names (matched by case-insensitive prefix, first match wins).
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December")),
    ("day-of-week", 0, 6, ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")),
)


def _value(text: str, field: int) -> int:
    what, low, _high, names = _FIELDS[field]
    if not text:
        raise CronSyntaxError(f"a {what} value is empty")
    if text[0] in "0123456789":
        if not re.fullmatch(r"[0-9]+", text):
            raise CronSyntaxError(f"{text!r} is not a number ({what})")
        return int(text)
    folded = text.casefold()
    for index, name in enumerate(names):
        if name.casefold().startswith(folded):
            return index + low
    raise CronSyntaxError(f"{text!r} is not a valid {what} value")


def _parse_field(text: str, field: int) -> tuple[int, ...]:
    """The sorted values one NCrontab field allows (``CrontabFieldImpl.InternalParse`` + ``Accumulate``)."""
    what, low, high, _names = _FIELDS[field]
    values: set[int] = set()
    for item in text.split(","):
        step: int | None = None
        if (slash := item.find("/")) > 0:
            if not re.fullmatch(r"[+-]?[0-9]+", item[slash + 1:]):
                raise CronSyntaxError(f"{item!r} has an invalid step ({what})")
            step, item = int(item[slash + 1:]), item[:slash]
        if item == "*":
            start, end = low, high
        else:
            if (dash := item.find("-")) > 0:
                start, end = _value(item[:dash], field), _value(item[dash + 1:], field)
            else:
                start = _value(item, field)
                end = high if step is not None else start  # "5/15" means 5-max/15
            start, end = min(start, end), max(start, end)  # NCrontab swaps a reversed range
            if start < low or end > high:
                raise CronSyntaxError(f"{item!r} is outside {low}-{high} ({what})")
        values.update(range(start, end + 1, max(step or 1, 1)))  # a step below 1 counts as 1
    return tuple(sorted(values))


def _at_or_after(values: tuple[int, ...], start: int) -> int | None:
    index = bisect.bisect_left(values, start)
    return values[index] if index < len(values) else None


def require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment!r}")


def fixed_offset(moment: datetime) -> datetime:
    """The same instant with a fixed offset (see the module docstring)."""
    if isinstance(moment.tzinfo, timezone):
        return moment
    offset = moment.utcoffset()  # replace, not astimezone: no overflow converting the year-1 MIN
    return moment.replace(tzinfo=timezone(offset) if offset else UTC, fold=0)


def _is_ambiguous(wall: datetime, tz: tzinfo) -> bool:
    """True for a wall time that occurs twice (fall back); gap times have two offsets too but do not round-trip."""
    first = wall.replace(tzinfo=tz, fold=0)
    if first.utcoffset() == wall.replace(tzinfo=tz, fold=1).utcoffset():
        return False
    return first.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0) == wall.replace(fold=0)


def _resolve(wall: datetime, tz: tzinfo) -> datetime:
    """A wall time as .NET's ``new DateTimeOffset(local).ToLocalTime()`` reads it: an ambiguous time takes the
    standard (second) offset, a time in the spring-forward gap the offset before it, which shifts it forward."""
    fold = 1 if _is_ambiguous(wall, tz) else 0
    return wall.replace(tzinfo=tz, fold=fold).astimezone(UTC).astimezone(tz)


class Schedule(ABC):
    """A parsed ``schedule``. ``tz`` is the zone cron fields are read in; None means the zone of the datetime passed
    in (so pass ``resolve_time_zone(...)`` to ``parse_schedule`` unless every caller passes ZoneInfo datetimes)."""

    adjust_for_dst: bool = True

    def __init__(self, expression: str, tz: tzinfo | None) -> None:
        self.expression = expression
        self.tz = tz

    def zone(self, moment: datetime, zone: tzinfo | None = None) -> tzinfo:
        chosen = zone if zone is not None else self.tz if self.tz is not None else moment.tzinfo
        assert chosen is not None  # callers check awareness first
        return chosen

    @abstractmethod
    def next_after(self, after: datetime, *, zone: tzinfo | None = None) -> datetime:
        """The first occurrence strictly after ``after`` (fixed-offset aware), or NEVER."""

    @abstractmethod
    def is_sub_minute(self) -> bool:
        """True when the host turns useMonitor off because the schedule fires more than once a minute."""

    def occurrences(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` occurrences (fewer if the schedule ends), as the host logs them on start."""
        require_aware(after, "after")
        zone, moment = self.zone(after), after
        found: list[datetime] = []
        while len(found) < count and (moment := self.next_after(moment, zone=zone)) != NEVER:
            found.append(moment)
        return found

    def __str__(self) -> str:
        return self.expression

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression!r}, tz={self.tz!r})"


class CronSchedule(Schedule):
    """NCRONTAB ``{second} {minute} {hour} {day} {month} {day-of-week}`` (5 fields: second 0), host DST rules."""

    def __init__(self, expression: str, tz: tzinfo | None = None) -> None:
        super().__init__(expression, tz)
        tokens = [token for token in expression.split(" ") if token]  # NCrontab splits on spaces only
        self.has_seconds = len(tokens) != 5
        if not self.has_seconds:
            tokens.insert(0, "0")
        elif len(tokens) != 6:
            raise CronSyntaxError(f"{len(tokens)} fields; a cron expression has 6 (or 5, without seconds)")
        self.fields = tuple(_parse_field(token, index) for index, token in enumerate(tokens))
        self._weekdays = frozenset(self.fields[5])
        self._never = not any(day <= _MONTH_DAYS[month - 1] for month in self.fields[4] for day in self.fields[3])
        # CronSchedule.IsInterval: a run of consecutive values ("*" or "a-b" once NCrontab re-formats the
        # expression) in the second (6 fields only), minute or hour field makes it an "interval" schedule.
        checked = self.fields[0:3] if self.has_seconds else self.fields[1:3]
        self.is_interval = any(b - a == 1 for values in checked for a, b in itertools.pairwise(values))

    def is_sub_minute(self) -> bool:
        # ShouldDisableScheduleMonitor: minute..day-of-week all "*" and two or more seconds in a minute.
        full = all(len(self.fields[i]) == _FIELDS[i][2] - _FIELDS[i][1] + 1 for i in range(1, 6))
        return self.has_seconds and len(self.fields[0]) >= 2 and full

    def next_wall(self, base: datetime) -> datetime | None:
        """NCrontab's next occurrence: the first matching wall-clock second strictly after naive ``base``, searched
        field by field (month, day, hour, minute, second), with day-of-month AND day-of-week."""
        if self._never:
            return None
        seconds, minutes, hours, days, months, _ = self.fields
        start = base.replace(microsecond=0, fold=0) + timedelta(seconds=1)
        year, month, day, hour, minute, second = start.timetuple()[:6]
        while year <= MAXYEAR:
            found = _at_or_after(months, month)
            if found is None:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0
            month_days = calendar.monthrange(year, month)[1]
            found = _at_or_after(days, day)
            while found is not None and found <= month_days and date(year, month, found).isoweekday() % 7 not in (
                    self._weekdays):
                found = _at_or_after(days, found + 1)
            if found is None or found > month_days:
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0
            if (found := _at_or_after(hours, hour)) is None:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if found != hour:
                hour, minute, second = found, 0, 0
            if (found := _at_or_after(minutes, minute)) is None:
                hour, minute, second = hour + 1, 0, 0
                continue
            if found != minute:
                minute, second = found, 0
            if (found := _at_or_after(seconds, second)) is None:
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, found)
        return None

    def next_after(self, after: datetime, *, zone: tzinfo | None = None) -> datetime:
        # CronSchedule.GetNextOccurrence: cron on local wall time, then TryAdjustAmbiguousTime for fall back.
        require_aware(after, "after")
        tz = self.zone(after, zone)
        now = after.astimezone(tz)
        wall = self.next_wall(now.replace(tzinfo=None))
        if wall is None:
            return NEVER
        nxt = _resolve(wall, tz)
        now_ambiguous = _is_ambiguous(now.replace(tzinfo=None), tz)
        next_ambiguous = _is_ambiguous(nxt.replace(tzinfo=None), tz)
        if now_ambiguous or next_ambiguous:
            shift = nxt.utcoffset() - now.utcoffset()  # type: ignore[operator]  # both aware, never None
            if shift and (self.is_interval or next_ambiguous):
                # Crossing into standard time: a point-in-time schedule runs in the first (daylight) pass of the
                # repeated hour; an interval schedule runs through both passes.
                nxt = (nxt.astimezone(UTC) + shift).astimezone(tz)
            elif next_ambiguous and not self.is_interval:
                # Already in the second pass: assume the first pass ran and skip the repeated wall times.
                while wall is not None and _is_ambiguous(wall, tz):
                    wall = self.next_wall(wall)
                if wall is None:
                    return NEVER
                nxt = _resolve(wall, tz)
        return fixed_offset(nxt)


class IntervalSchedule(Schedule):
    """A TimeSpan schedule (the host's ConstantSchedule): a fixed elapsed interval, blind to DST."""

    adjust_for_dst = False

    def __init__(self, expression: str, interval: timedelta, tz: tzinfo | None = None) -> None:
        super().__init__(expression, tz)
        self.interval = interval

    def is_sub_minute(self) -> bool:
        return self.interval < timedelta(minutes=1)

    def next_after(self, after: datetime, *, zone: tzinfo | None = None) -> datetime:
        require_aware(after, "after")
        try:
            return fixed_offset((after.astimezone(UTC) + self.interval).astimezone(self.zone(after, zone)))
        except OverflowError:
            return NEVER


def parse_schedule(expression: str, tz: tzinfo | None = None) -> Schedule:
    """NCRONTAB first, then a TimeSpan, as ``TimerSchedule.Create`` does; neither is the host's error."""
    try:
        return CronSchedule(expression, tz)
    except CronSyntaxError as error:
        cron_error = error
    try:
        seconds = parse_timespan(expression, what="schedule")
    except ConfigError as timespan_error:
        # Chain whichever reason fits what the user probably meant: fields mean cron, one word a TimeSpan.
        cause = cron_error if len(expression.split()) > 1 else timespan_error
        raise ConfigError(_NOT_RECOGNIZED.format(expression)) from cause
    if abs(seconds) > _MAX_TIMESPAN_SECONDS:
        raise ConfigError(_NOT_RECOGNIZED.format(expression)) from cron_error
    if seconds <= 0:
        # The host accepts these and then fires in a tight loop; refusing is kinder than copying that.
        raise ConfigError(f"The schedule expression '{expression}' is a TimeSpan of zero or less; a timer needs a "
                          "positive interval such as \"00:05:00\".")
    return IntervalSchedule(expression, timedelta(seconds=seconds), tz)


def use_monitor_for(schedule: Schedule, requested: bool) -> bool:
    """The host turns useMonitor off (quietly) for schedules that fire more than once a minute."""
    return requested and not schedule.is_sub_minute()
