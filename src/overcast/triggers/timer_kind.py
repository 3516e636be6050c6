"""The ``timer`` kind: the ``timerTrigger`` trigger (a schedule, run under a lease by one instance at a time)."""

from __future__ import annotations

from collections.abc import Mapping

from overcast.app.spec import BindingSpec
from overcast.errors import ConfigError
from overcast.kinds import BindingKind, ManualInput, Need, json_datum


class TimerKind(BindingKind):
    trigger = listened = True
    trigger_needs: frozenset[Need] = frozenset({"leases"})
    listener = "overcast.triggers.timer:timer_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        from overcast.triggers.schedule import parse_schedule, resolve_time_zone

        try:
            parse_schedule(str(binding.get("schedule") or ""), resolve_time_zone(environ))
        except ConfigError as exc:
            return [str(exc)]
        return []

    def manual_input(self, text: str) -> ManualInput:
        return json_datum({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False})
