"""The invocations running in one instance, by function name: what a stopping instance says it waits for."""

from __future__ import annotations


class InFlight:
    """Counts running invocations per function (enter/leave in pairs, on the instance's event loop)."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}

    def enter(self, function_name: str) -> None:
        self._running[function_name] = self._running.get(function_name, 0) + 1

    def leave(self, function_name: str) -> None:
        left = self._running.get(function_name, 0) - 1
        if left > 0:
            self._running[function_name] = left
        else:
            self._running.pop(function_name, None)

    def snapshot(self) -> dict[str, int]:
        """Running invocations by function name, the busiest first."""
        return dict(sorted(self._running.items(), key=lambda item: (-item[1], item[0])))
