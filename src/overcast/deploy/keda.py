"""KEDA scaling for the background deployment: a ``ScaledObject`` with one PostgreSQL-scaler trigger per signal.

Each background trigger kind names the work waiting for it as one SQL query over Overcast's PostgreSQL schema
(:mod:`overcast.deploy.pg_signals`); KEDA runs the queries every ``pollingInterval`` seconds, scales the deployment
from zero when any is above its activation value and sizes it on the largest ratio to its target. A trigger whose
kind has no signal keeps one replica running (``minReplicaCount: 1``) and the command says so: a pod at zero would
never see its work arrive.
"""

from __future__ import annotations

import re
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
    if trigger.get("source").lower() == "eventgrid":
        from overcast.backends.blob_events import blob_subscription_name

        # Its work arrives as Event Grid deliveries of its own subscription (and it writes no receipts, so the
        # blob backlog would never reach zero).
        subscription = blob_subscription_name(trigger.function)
        return Signal(f"event grid {subscription}", pg_signals.eventgrid_pending([subscription]), 16)
    path = trigger.get("path")
    container, _, rest = path.partition("/")
    prefix = rest.split("{", 1)[0]
    return Signal(f"blobs {path}", pg_signals.blob_backlog(app.host_id, trigger.function, container, prefix), 16)


def _servicebus(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    from overcast.backends.servicebus_store import split_dead_letter, subscription_path

    topic = trigger.get("topicName")
    path = subscription_path(topic, trigger.get("subscriptionName")) if topic else trigger.get("queueName")
    entity, dead = split_dead_letter(path)
    return Signal(f"service bus {path}", pg_signals.servicebus_active(entity, dead), 16)


def _eventhub(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    from overcast.backends.eventhubs_store import DEFAULT_CONSUMER_GROUP, check_group, hub_key

    hub, group = trigger.get("eventHubName"), trigger.get("consumerGroup") or DEFAULT_CONSUMER_GROUP
    return Signal(f"event hub {hub} {group}", pg_signals.eventhub_lag(hub_key(hub), check_group(group)), 100)


def _cosmos(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    from overcast.triggers.cosmos import lease_options

    lease = lease_options(trigger.binding)  # as the listener reads them: v4 or v3 names, the same defaults
    query = pg_signals.cosmos_lag(lease.database, lease.container, lease.lease_database, lease.lease_container,
                                  lease.id_prefix)
    return Signal(f"cosmos {lease.database}/{lease.container}", query, 100)


def _durable(trigger: BackgroundTrigger, app: AppScope) -> Signal:
    return Signal(f"durable {app.hub}", pg_signals.durable_pending(app.hub), 10)


# trigger type (lower case) -> the signal of one trigger's work; a kind not named here has none
SIGNALS: dict[str, Callable[[BackgroundTrigger, AppScope], Signal | None]] = {
    "queuetrigger": lambda t, app: Signal(f"queue {t.get('queueName')}", pg_signals.queue_backlog(
        t.get("queueName")), 16),
    "blobtrigger": _blob,
    "timertrigger": lambda t, app: Signal(f"timer {t.function}", pg_signals.timer_due(
        app.host_id, t.function, app.lead_seconds), 1),
    "servicebustrigger": _servicebus,
    "eventhubtrigger": _eventhub,
    "cosmosdbtrigger": _cosmos,
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
    words = "-".join(re.findall(r"[a-z0-9]+", signal.name.lower()))
    return f"{index}-{words}"[:63].rstrip("-")
