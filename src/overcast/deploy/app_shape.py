"""Which deployment runs which function, and what each background trigger waits on.

HTTP-triggered functions run in the HTTP deployment (scaled by replicas or an HPA, always at least one, behind the
Service), and so do Event Grid-triggered ones: Event Grid pushes to them over HTTP (``/runtime/webhooks/eventgrid``),
which reaches only the Service's pods; deliveries from the app's local topics are made there too. Every other
trigger runs in the background deployment, which KEDA scales from zero on the work waiting for it. Warmup functions
run in both: the host runs them once per instance, whatever the instance serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from overcast.app.index import AppIndex
from overcast.app.spec import BindingSpec

HTTP_TRIGGER = "httptrigger"
# Triggers whose work arrives as HTTP requests (the HTTP deployment runs them).
PUSHED_TRIGGERS = {HTTP_TRIGGER, "eventgridtrigger"}
WARMUP_TRIGGER = "warmuptrigger"
# Triggers that a replica count of zero would never see: an orchestration's work arrives through the durable store,
# which the durable signal counts; anything else without a signal keeps one replica (see ``BackgroundTrigger``).
DURABLE_TRIGGERS = {"orchestrationtrigger", "activitytrigger", "entitytrigger"}


@dataclass(frozen=True)
class BackgroundTrigger:
    function: str
    binding: BindingSpec  # the trigger binding, with app settings resolved (queue names, paths, hubs...)

    @property
    def trigger_type(self) -> str:
        return self.binding.type

    def get(self, key: str) -> str:
        """A trigger property as text ("" when absent)."""
        value = self.binding.get(key)
        return "" if value is None else str(value)


@dataclass
class AppShape:
    http: list[str] = field(default_factory=list)
    background: list[BackgroundTrigger] = field(default_factory=list)
    warmup: list[str] = field(default_factory=list)

    @property
    def http_functions(self) -> list[str]:
        return sorted(set(self.http + self.warmup))

    @property
    def background_functions(self) -> list[str]:
        return sorted({t.function for t in self.background} | set(self.warmup))

    @property
    def durable(self) -> bool:
        return any(t.trigger_type.lower() in DURABLE_TRIGGERS for t in self.background)


def shape_of(index: AppIndex) -> AppShape:
    """The deployments' split of the app's loaded, enabled functions (functions in error are left out)."""
    shape = AppShape()
    for spec in index.functions:
        if spec.in_error or spec.disabled:
            continue
        kind = spec.trigger.type.lower()
        if kind in PUSHED_TRIGGERS:
            shape.http.append(spec.name)
        elif kind == WARMUP_TRIGGER:
            shape.warmup.append(spec.name)
        else:
            shape.background.append(BackgroundTrigger(spec.name, spec.trigger))
    return shape
