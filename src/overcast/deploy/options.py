"""What the manifests are made from: the app's name, image, settings and scaling choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AppScope:
    host_id: str  # AzureFunctionsWebHost__hostid of the pods
    hub: str  # the durable task hub (host.json extensions.durableTask.hubName)
    lead_seconds: int  # how early a timer's pod should start: KEDA's polling interval plus a pod's start


@dataclass
class ManifestOptions:
    name: str  # the app's name: objects' names, labels and the host id
    image: str
    settings: Mapping[str, str]  # app settings for the pods (AzureWebJobsStorage among them)
    namespace: str | None = None
    http_replicas: int = 1
    min_replicas: int = 0  # the background deployment's floor (KEDA scales it from zero)
    max_replicas: int = 10
    polling_interval: int = 5  # seconds between KEDA's queries
    cooldown_period: int = 60  # seconds without work before KEDA scales the background deployment to zero
    service_type: str = "ClusterIP"
    keys: Mapping[str, str] = field(default_factory=dict)  # pinned keys by file name (host.master, ...)
    hub: str = "TestHubName"  # the durable task hub

    @property
    def host_id(self) -> str:
        return self.name.lower()[:32]

    @property
    def scope(self) -> AppScope:
        # A timer's pod starts a polling interval plus about half a minute (image pull aside) before it is due.
        return AppScope(self.host_id, self.hub, self.polling_interval + 30)


def meta(options: ManifestOptions, name: str, component: str | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": options.name, "app.kubernetes.io/managed-by": "overcast"}
    if component:
        labels["app.kubernetes.io/component"] = component
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


def settings_secret_name(options: ManifestOptions) -> str:
    return f"{options.name}-settings"
