"""The Kubernetes objects for an app: two Deployments (HTTP and background), a Service, the Secrets, KEDA scaling.

Both deployments run the same image and the same app; each loads only its share of the functions through the
host's own allow list (``AzureFunctionsJobHost__functions__N``), and both carry one host id
(``AzureFunctionsWebHost__hostid``) so timers, blob receipts and keys are the app's, not a pod's. Keys are pinned
from a Secret mounted where Overcast (and Azure's Kubernetes secret repository layout) reads them, so every pod
accepts the same keys from its first request. Settings travel in a Secret too, as ``func kubernetes deploy`` does:
they hold the database connection string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overcast.deploy.app_shape import AppShape
from overcast.deploy.keda import scaling_objects
from overcast.deploy.options import ManifestOptions, meta, settings_secret_name
from overcast.web.key_docs import generate_key

KEYS_MOUNT = "/run/secrets/functions-keys"  # overcast.web.key_pins.DEFAULT_PIN_DIR
CONTAINER_PORT = 8080
Manifest = dict[str, Any]


def generate_keys() -> dict[str, str]:
    """A master key and a default host key, made as Overcast makes keys it stores."""
    return {name: generate_key() for name in ("host.master", "host.function.default")}


def _secret(options: ManifestOptions, name: str, data: Mapping[str, str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(options, name), "type": "Opaque",
            "stringData": dict(sorted(data.items()))}


def _probe(path: str, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3,
            "failureThreshold": 3}


def _deployment(options: ManifestOptions, component: str, functions: list[str], replicas: int | None) -> Manifest:
    name = f"{options.name}-{component}"
    selector = {"app.kubernetes.io/name": options.name, "app.kubernetes.io/component": component}
    env = [{"name": "AzureFunctionsWebHost__hostid", "value": options.host_id},
           {"name": "OVERCAST_DATA_DIR", "value": "/tmp/overcast"}]
    env += [{"name": f"AzureFunctionsJobHost__functions__{i}", "value": fn} for i, fn in enumerate(functions)]
    container = {
        "name": "app",
        "image": options.image,
        "args": ["start", "--address", "0.0.0.0", "--port", str(CONTAINER_PORT)],
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "envFrom": [{"secretRef": {"name": settings_secret_name(options)}}],
        "env": env,
        "livenessProbe": _probe("/runtime/health/live", 10),
        "readinessProbe": _probe("/runtime/health/ready", 5),
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "keys", "mountPath": KEYS_MOUNT, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": {**selector, "app.kubernetes.io/managed-by": "overcast"}},
            "spec": {
                # The host drains in-flight work for up to 30 s on SIGTERM (the host's graceful shutdown).
                "terminationGracePeriodSeconds": 40,
                "containers": [container],
                "volumes": [{"name": "keys", "secret": {"secretName": f"{options.name}-keys"}},
                            {"name": "tmp", "emptyDir": {}}],
            },
        },
    }
    if replicas is not None:  # KEDA owns the background deployment's replica count
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(options, name, component),
            "spec": spec}


def _service(options: ManifestOptions) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(options, f"{options.name}-http", "http"),
            "spec": {"type": options.service_type,
                     "selector": {"app.kubernetes.io/name": options.name, "app.kubernetes.io/component": "http"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def build_manifests(options: ManifestOptions, shape: AppShape) -> list[Manifest]:
    """Every object, in the order ``kubectl apply -f`` should create them (Secrets before their users)."""
    objects = [_secret(options, settings_secret_name(options), options.settings),
               _secret(options, f"{options.name}-keys", options.keys or generate_keys())]
    if shape.http:
        objects.append(_deployment(options, "http", shape.http_functions, options.http_replicas))
        objects.append(_service(options))
    if shape.background:
        objects.append(_deployment(options, "background", shape.background_functions, None))
        objects += scaling_objects(options, shape)
    return objects
