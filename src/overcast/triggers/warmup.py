"""The warmup trigger (spec §6.8): the function named ``warmup`` with a ``warmupTrigger`` binding.

In Azure the platform calls ``/admin/warmup`` on a new instance before sending it traffic, and the host runs the
warmup function at most once per process (``ScriptRouteHandler``: later calls return at once). Each Overcast instance
is such a new instance: it runs the function once before it starts serving (so traffic reaches it warm, and a
replacement after a reload or SIGHUP warms up while the previous instances keep serving); ``/admin/warmup`` then
finds it already done, exactly as a second platform call would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from overcast.app.index import AppIndex
from overcast.app.spec import FunctionSpec
from overcast.invoke.model import Invocation, Result
from overcast.kinds import BindingKind, ManualInput, kind_of

WARMUP_TRIGGER = "warmupTrigger"
WARMUP_NAME = "warmup"
# The host runs it through its HTTP route, so the invocation carries the reason of a host API call.
REASON = "This function was programmatically called via the host APIs."


def is_warmup_function(spec: FunctionSpec) -> bool:
    """As the host's ``IsWarmupFunction``: named ``warmup`` and triggered by ``warmupTrigger`` (any case)."""
    return spec.name.lower() == WARMUP_NAME and any(
        b.is_trigger and b.direction == "in" and b.type.lower() == WARMUP_TRIGGER.lower() for b in spec.bindings
    )


class WarmupKind(BindingKind):
    """The ``warmup`` kind: no listener; the instance runs the warmup function once before it serves."""

    trigger = any_case = True

    def start_warning(self, spec: FunctionSpec) -> str | None:
        if is_warmup_function(spec):
            return None
        return (f"Function '{spec.name}' has a warmupTrigger, but only a function named 'warmup' runs when an "
                f"instance starts (as in Azure); this one runs only through POST /admin/functions/{spec.name}.")

    def manual_input(self, text: str) -> ManualInput:
        """The host hands the worker a ``WarmupContext`` with no properties (JSON ``{}``); the library's converter
        makes a ``func.WarmUpContext`` of it whatever it holds."""
        from azure.functions.meta import Datum

        return Datum("{}", "json"), {}


def find_warmup(index: AppIndex) -> FunctionSpec | None:
    """The app's warmup function, if it has one that can run (not in error, not disabled)."""
    for spec in index.functions:
        if is_warmup_function(spec) and not spec.in_error and not spec.disabled:
            return spec
    return None


class Warmup:
    """Runs the warmup function at most once in this process."""

    def __init__(self, spec: FunctionSpec | None, invoke: Callable[[Invocation], Awaitable[Result]]) -> None:
        self.spec = spec
        self._invoke = invoke
        self._claimed = False

    async def run(self) -> Result | None:
        """The result of running the warmup function now; None if there is none or it already ran (or runs)."""
        # Claimed before the call, as the host does: a second caller returns at once instead of waiting.
        if self._claimed or self.spec is None:
            self._claimed = True
            return None
        self._claimed = True
        trigger, metadata = kind_of(WARMUP_TRIGGER).manual_input("")
        return await self._invoke(Invocation(function=self.spec, trigger=trigger, trigger_metadata=metadata,
                                             reason=REASON))
