"""Which functions of the app are orchestrators, activities and entities, by their durable names (spec §1.3).

Names are case-insensitive; an orchestration or activity is also found by its Python function name, because
``call_activity(fn)`` with a function object sends that name rather than an ``activity=`` override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from overcast.app.spec import FunctionSpec
from overcast.durable.core.model import FunctionCatalog

TRIGGER_NAME_KEYS = {
    "orchestrationTrigger": "orchestration", "activityTrigger": "activity", "entityTrigger": "entityName",
}
DURABLE_TRIGGERS = frozenset(TRIGGER_NAME_KEYS)


def durable_name(spec: FunctionSpec) -> str:
    """The name the durable runtime registers: the binding's override, else the function name."""
    key = TRIGGER_NAME_KEYS.get(spec.trigger.type)
    override = spec.trigger.get(key) if key else None
    return str(override) if override else spec.name


@dataclass
class DurableFunctions:
    orchestrators: dict[str, FunctionSpec] = field(default_factory=dict)
    activities: dict[str, FunctionSpec] = field(default_factory=dict)
    entities: dict[str, FunctionSpec] = field(default_factory=dict)
    uses_client: bool = False

    @classmethod
    def of(cls, specs: Iterable[FunctionSpec]) -> DurableFunctions:
        found = cls()
        for spec in specs:
            if spec.in_error or spec.disabled:
                continue
            if any(b.is_durable_client for b in spec.bindings):
                found.uses_client = True
            table = {"orchestrationTrigger": found.orchestrators, "activityTrigger": found.activities,
                     "entityTrigger": found.entities}.get(spec.trigger.type)
            if table is None:
                continue
            if spec.trigger.type == "orchestrationTrigger":
                # Replays are short and deterministic with no I/O: the dispatcher runs them on the event loop.
                spec.extras["inline"] = True
            for name in (spec.name, durable_name(spec)):
                table.setdefault(name.lower(), spec)
            if spec.trigger.type != "entityTrigger":
                table[durable_name(spec).lower()] = spec  # the declared name wins over another function's name
        return found

    @property
    def any(self) -> bool:
        return bool(self.orchestrators or self.activities or self.entities or self.uses_client)

    def orchestrator(self, name: str) -> FunctionSpec | None:
        return self.orchestrators.get(name.lower())

    def activity(self, name: str) -> FunctionSpec | None:
        return self.activities.get(name.lower())

    def entity(self, name: str) -> FunctionSpec | None:
        return self.entities.get(name.lower())

    def catalog(self) -> FunctionCatalog:
        return FunctionCatalog(activities=tuple(self.activities), orchestrators=tuple(self.orchestrators))
