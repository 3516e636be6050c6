"""KEDA scaling for the background deployment: a ``ScaledObject`` with one PostgreSQL-scaler trigger per signal.

Each background trigger kind names the work waiting for it as one SQL query over Overcast's PostgreSQL schema
(:mod:`overcast.deploy.pg_signals`); KEDA runs the queries every ``pollingInterval`` seconds, scales the deployment
from zero when any is above its activation value and sizes it on the largest ratio to its target. A trigger whose
kind has no signal keeps one replica running (``minReplicaCount: 1``) and the command says so: a pod at zero would
never see its work arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from overcast.deploy import pg_signals
from overcast.deploy.options import AppScope, ManifestOptions, meta, settings_secret_name

if TYPE_CHECKING:
    from overcast.deploy.app_shape import AppShape, BackgroundTrigger

CONNECTION_KEY = "AzureWebJobsStorage"


@dataclass(frozen=True)
class Signal:
    name: str  # for people reading the manifest: which functions' work this counts
    query: str  # one row, one number: the work waiting
    target: int  # work items per replica


def _blob(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    path = trigger.get("path")
    container, _, rest = path.partition("/")
    prefix = rest.split("{", 1)[0]
    return Signal(f"blobs {path}", pg_signals.blob_backlog(app.host_id, trigger.function, container, prefix), 16)


def _durable(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    return Signal(f"durable {app.hub}", pg_signals.durable_pending(app.hub), 10)


# trigger type (lower case) -> the signal of one trigger's work; a kind not named here has none
SIGNALS: dict[str, Callable[[BackgroundTrigger, AppScope], Signal | None]] = {
    "queuetrigger": lambda t, app: Signal(f"queue {t.get('queueName')}", pg_signals.queue_backlog(
        t.get("queueName")), 16),
    "blobtrigger": _blob,
    "timertrigger": lambda t, app: Signal(f"timer {t.function}", pg_signals.timer_due(
        app.host_id, t.function, app.lead_seconds), 1),
    "orchestrationtrigger": _durable,
    "activitytrigger": _durable,
    "entitytrigger": _durable,
}


def signals_of(shape: AppShape, app: AppScope) -> tuple[list[Signal], list[str]]:
    """The distinct signals of the background triggers, and the functions that have none."""
    found: dict[str, Signal] = {}
    unsignalled: list[str] = []
    for trigger in shape.background:
        make = SIGNALS.get(trigger.trigger_type.lower())
        signal = make(trigger, app) if make else None
        if signal is None:
            unsignalled.append(trigger.function)
        else:
            found.setdefault(signal.query, signal)
    return list(found.values()), unsignalled


def scaling_objects(options: ManifestOptions, shape: AppShape) -> list[dict[str, Any]]:
    """The ``TriggerAuthentication`` (the connection string from the settings Secret) and the ``ScaledObject``."""
    signals, unsignalled = signals_of(shape, options.scope)
    auth_name = f"{options.name}-postgresql"
    auth = {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": meta(options, auth_name, None),
            "spec": {"secretTargetRef": [{"parameter": "connection", "name": settings_secret_name(options),
                                          "key": CONNECTION_KEY}]}}
    triggers = [{"type": "postgresql", "name": _trigger_name(i, s),
                 "metadata": {"query": s.query, "targetQueryValue": str(s.target),
                              "activationTargetQueryValue": "0"},
                 "authenticationRef": {"name": auth_name}} for i, s in enumerate(signals)]
    floor = max(options.min_replicas, 1 if unsignalled else 0)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
              "metadata": meta(options, f"{options.name}-background", "background"),
              "spec": {"scaleTargetRef": {"name": f"{options.name}-background"},
                       "pollingInterval": options.polling_interval, "cooldownPeriod": options.cooldown_period,
                       "minReplicaCount": floor, "maxReplicaCount": max(options.max_replicas, floor, 1),
                       "triggers": triggers}}
    if not triggers:  # KEDA needs at least one trigger: with no signal at all, a fixed floor of one replica
        return _fixed(scaled)
    return [auth, scaled]


def _fixed(scaled: dict[str, Any]) -> list[dict[str, Any]]:
    """No signal: KEDA's cpu scaler keeps the deployment between one replica and the maximum."""
    spec = scaled["spec"]
    spec["minReplicaCount"] = max(1, spec["minReplicaCount"])
    spec["triggers"] = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}]
    return [scaled]


def _trigger_name(index: int, signal: Signal) -> str:
    words = "".join(c if c.isalnum() else "-" for c in signal.name.lower()).strip("-")
    return f"{index}-{words}"[:63].rstrip("-")
