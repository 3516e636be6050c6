"""The timer trigger listener (§6.3): one instance fires each occurrence, never overlapping, with schedule status.

Instances coordinate through the store only: a lease per timer decides which instance runs it (renewed while it
runs, taken over when the holder dies), and the schedule status (Last/Next) decides what is due, so a timer whose
holder was down fires once as past due when the next holder starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers import schedule_status as sched

log = logging.getLogger("overcast.host.triggers.timer")
LEASE_SECONDS = 15.0  # the host's singleton lockPeriod
RENEW_EVERY = 5.0


class TimerListener:
    def __init__(
        self,
        spec: FunctionSpec,
        schedule: Any,
        tz: dt.tzinfo,
        *,
        use_monitor: bool,
        run_on_startup: bool,
        state: Any,
        leases: Any,
        invoke: Callable[[Invocation], Awaitable[Result]],
        io: Callable[..., Awaitable[Any]],
        host_id: str,
        owner: str,
        retry: RetrySpec | None,
    ) -> None:
        self.spec = spec
        self._schedule = schedule
        self._tz = tz
        self._use_monitor = use_monitor
        self._run_on_startup = run_on_startup
        self._state = state
        self._leases = leases
        self._invoke = invoke
        self._io = io
        self._owner = owner
        self._retry = retry
        self._lease = f"timer/{host_id}/Host.Functions.{spec.name}"
        self._status_key = f"timers/{host_id}/Host.Functions.{spec.name}/status"
        self._stopping = asyncio.Event()
        self._started_once = False

    def stop(self) -> None:
        self._stopping.set()

    async def drain(self) -> None:
        return None

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self._tz)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopped."""
        try:
            await asyncio.wait_for(self._stopping.wait(), max(seconds, 0.0))
            return True
        except asyncio.TimeoutError:
            return False

    async def _status(self) -> Any:
        if not self._use_monitor:
            return None
        raw = await self._io(self._state.get, self._status_key)
        if not raw:
            return None
        try:
            return sched.ScheduleStatus.from_json(raw)
        except ValueError:
            log.warning("The stored schedule status of timer '%s' is not valid; starting afresh.", self.spec.name)
            return None

    async def _save(self, status: Any) -> None:
        if self._use_monitor and status is not None:
            await self._io(self._state.put, self._status_key, status.to_json())

    async def run(self) -> None:
        """Never raises: lease and store failures are logged and retried."""
        while not self._stopping.is_set():
            try:
                held = await self._io(self._leases.acquire, self._lease, self._owner, LEASE_SECONDS)
                if held:
                    await self._hold()
                elif await self._sleep(RENEW_EVERY):
                    return
            except Exception:
                log.exception("Timer '%s' failed; retrying in %.0f s.", self.spec.name, RENEW_EVERY)
                if await self._sleep(RENEW_EVERY):
                    return
        await self._io(self._leases.release, self._lease, self._owner)

    async def _hold(self) -> None:
        """Run the schedule while this instance holds the lease."""
        now = self._now()
        decision = sched.decide_on_start(
            self._schedule, await self._status(), now, self._run_on_startup and not self._started_once,
            self._use_monitor,
        )
        self._started_once = True
        if decision.status_to_write is not None:
            await self._save(decision.status_to_write)
        upcoming = ", ".join(o.isoformat() for o in self._schedule.occurrences(now, 5))
        log.info("The next 5 occurrences of the '%s' schedule (%s) will be: %s", self.spec.name,
                 self._schedule, upcoming)
        next_due: dt.datetime = decision.next_due
        if decision.fire_now:
            next_due = await self._fire(past_due=decision.past_due, scheduled=None)
        while not self._stopping.is_set():
            wait = (next_due - self._now()).total_seconds()
            while wait > 0:
                if await self._sleep(min(wait, RENEW_EVERY)):
                    return
                if not await self._io(self._leases.acquire, self._lease, self._owner, LEASE_SECONDS):
                    log.warning("Timer '%s' lost its lease; another instance runs it now.", self.spec.name)
                    return
                wait = (next_due - self._now()).total_seconds()
            next_due = await self._fire(past_due=False, scheduled=next_due)

    async def _fire(self, *, past_due: bool, scheduled: dt.datetime | None) -> dt.datetime:
        from azure.functions.meta import Datum

        started = self._now()
        status = await self._status()
        invocation = Invocation(
            function=self.spec,
            trigger=Datum(sched.timer_request_json(past_due, status, self._schedule), "json"),
            reason=f"Timer fired at {started.isoformat()}",
        )
        await invoke_with_retry(self._invoke, invocation, self._retry)
        next_due, new_status = sched.after_run(self._schedule, started, scheduled, self._now())
        await self._save(new_status)
        return next_due
