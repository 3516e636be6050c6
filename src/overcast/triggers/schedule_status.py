"""The timer's persisted schedule status (``{"Last","Next","LastUpdated"}``) and the listener's decisions on it
(§6.3): what to do at start (past due? run on startup?), what to persist after a run, and the payload the
function's ``TimerRequest`` reads. Pure: no I/O, no clock, no sleeping; schedules come from ``schedule``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from overcast.triggers.schedule import MIN, UTC, Schedule, fixed_offset, require_aware, use_monitor_for


def _parse_iso(value: Any, key: str) -> datetime:
    if value is None:
        return MIN  # Newtonsoft leaves a missing DateTime at MinValue
    if not isinstance(value, str):
        raise ValueError(f"schedule status {key}: {value!r} is not a date string")
    # Python 3.10's fromisoformat takes neither "Z" nor .NET's 7 fraction digits; normalise both.
    text = re.sub(r"[Zz]$", "+00:00", value.strip())
    text = re.sub(r"\.(\d+)", lambda match: "." + match[1][:6].ljust(6, "0"), text, count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"schedule status {key}: {value!r} is not an ISO 8601 date") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ScheduleStatus:
    """``{"Last","Next","LastUpdated"}``: the last run, the occurrence expected next, and when Next was computed."""

    last: datetime
    next: datetime
    last_updated: datetime

    def __post_init__(self) -> None:
        # Fixed offsets, because Python never finds a ZoneInfo time in a repeated hour equal to another zone's.
        for what in ("last", "next", "last_updated"):
            require_aware(getattr(self, what), what)
            object.__setattr__(self, what, fixed_offset(getattr(self, what)))

    def to_dict(self) -> dict[str, str]:
        return {"Last": self.last.isoformat(), "Next": self.next.isoformat(),
                "LastUpdated": self.last_updated.isoformat()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> ScheduleStatus:
        """Raises ValueError when ``raw`` is not a status (the host fails the listener's start on that too)."""
        try:
            data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            raise ValueError(f"schedule status is not a JSON object: {raw!r}")
        return cls(*(_parse_iso(data.get(key), key) for key in ("Last", "Next", "LastUpdated")))


@dataclass(frozen=True)
class StartDecision:
    fire_now: bool  # past due, or runOnStartup
    past_due: bool
    next_due: datetime  # when to fire; ``now`` when fire_now
    status_to_write: ScheduleStatus | None  # a new or corrected status to persist before anything else
    missed: datetime | None = None  # the recorded Next that was missed (the host's OriginalSchedule)


def decide_on_start(schedule: Schedule, status: ScheduleStatus | None, now: datetime, run_on_startup: bool,
                    use_monitor: bool) -> StartDecision:
    """``TimerListener.StartAsync`` + ``ScheduleMonitor.CheckPastDueAsync``; sub-minute schedules are never
    monitored, whatever ``use_monitor`` says."""
    require_aware(now, "now")
    zone = schedule.zone(now)
    to_write: ScheduleStatus | None = None
    past_due = False
    if use_monitor_for(schedule, use_monitor):
        if status is None:
            to_write = ScheduleStatus(MIN, schedule.next_after(now, zone=zone), fixed_offset(now))
            recorded = to_write.next
        else:
            # Recompute Next from what it was computed from; a mismatch means the schedule changed.
            basis = status.last if status.last != MIN else status.last_updated if status.last_updated != MIN else now
            expected = schedule.next_after(basis, zone=zone)
            recorded = status.next
            if status.next != expected:
                if now > expected:  # a changed schedule must not make the timer past due
                    basis, expected = now, schedule.next_after(now, zone=zone)
                to_write = ScheduleStatus(MIN, expected, fixed_offset(basis))
                recorded = expected
        past_due = now > recorded
    else:
        recorded = schedule.next_after(now, zone=zone)
    fire_now = past_due or run_on_startup
    return StartDecision(fire_now, past_due, fixed_offset(now) if fire_now else recorded, to_write,
                         recorded if past_due else None)


def after_run(schedule: Schedule, started: datetime, scheduled: datetime | None,
              now: datetime) -> tuple[datetime, ScheduleStatus]:
    """The next due time and the status to persist after a run (``TimerListener.InvokeJobFunction``).

    Next is computed from the run's start -- or from ``scheduled`` when the timer fired a little early, so the same
    occurrence is not due twice. Ticks missed during a long run are not queued: the due time is at most one
    immediate catch-up (``now``)."""
    require_aware(started, "started")
    require_aware(now, "now")
    basis = fixed_offset(scheduled if scheduled is not None and scheduled > started else started)
    nxt = schedule.next_after(basis, zone=schedule.zone(started))
    return max(nxt, fixed_offset(now)), ScheduleStatus(basis, nxt, basis)


def timer_request_json(past_due: bool, status: ScheduleStatus | None, schedule: Schedule | None = None) -> str:
    """The trigger payload ``azure.functions.TimerRequest``'s converter decodes (ScheduleStatus null: unmonitored)."""
    return json.dumps({
        "Schedule": {"AdjustForDST": schedule.adjust_for_dst if schedule is not None else True},
        "ScheduleStatus": status.to_dict() if status is not None else None,
        "IsPastDue": past_due,
    }, separators=(",", ":"))
