"""``overcast kubernetes manifests`` on an app with every kind of trigger: the objects it writes, validated offline
against the Kubernetes API schemas (kubernetes-validate, strict: no unknown fields) and KEDA's CRD schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.unit.deploy.conftest import CONNECTION, KUBE_APP, run_manifests

KUBERNETES = kubernetes_validate.latest_version()


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        found.setdefault(doc["kind"], []).append(doc)
    return found


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_every_core_object_is_valid_kubernetes(kube_manifests: list[dict[str, Any]]) -> None:
    core = [d for d in kube_manifests if not d["apiVersion"].startswith("keda.sh/")]
    assert [d["kind"] for d in core] == ["Secret", "Secret", "Deployment", "Service", "Deployment"]
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_every_keda_object_is_valid_against_kedas_schema(kube_manifests: list[dict[str, Any]],
                                                           keda_validate: Callable[[dict[str, Any]], str]) -> None:
    keda = [d for d in kube_manifests if d["apiVersion"].startswith("keda.sh/")]
    assert [d["kind"] for d in keda] == ["TriggerAuthentication", "ScaledObject"]
    for doc in keda:
        assert keda_validate(doc) == ""
    assert "must be integer" in keda_validate({**keda[1], "spec": {**keda[1]["spec"], "minReplicaCount": "0"}})


def test_functions_are_split_between_the_deployments(kube_manifests: list[dict[str, Any]]) -> None:
    http, background = _by_kind(kube_manifests)["Deployment"]
    http_env, background_env = _env(http), _env(background)
    listed = {k: v for k, v in http_env.items() if k.startswith("AzureFunctionsJobHost__functions__")}
    # Event Grid pushes to its triggers over HTTP, which reaches only the Service's (HTTP) pods.
    assert sorted(listed.values()) == ["hello", "on_event", "start", "warmup"]
    listed = {k: v for k, v in background_env.items() if k.startswith("AzureFunctionsJobHost__functions__")}
    assert sorted(listed.values()) == ["changes", "evented", "greet", "images", "jobs", "nightly", "orders", "say",
                                       "telemetry", "warmup"]
    # One app: both deployments share the host id, so timers, receipts and keys are the app's.
    assert http_env["AzureFunctionsWebHost__hostid"] == background_env["AzureFunctionsWebHost__hostid"] == "kube"
    assert http["spec"]["replicas"] == 1 and "replicas" not in background["spec"]  # KEDA owns it


def test_settings_and_keys_travel_in_secrets(kube_manifests: list[dict[str, Any]]) -> None:
    settings, keys = _by_kind(kube_manifests)["Secret"]
    assert settings["stringData"]["AzureWebJobsStorage"] == CONNECTION
    assert settings["stringData"]["ORDERS_QUEUE"] == "orders"  # local.settings.json Values go along
    assert set(keys["stringData"]) == {"host.master", "host.function.default"}
    assert all(len(v) >= 40 for v in keys["stringData"].values())
    pod = _by_kind(kube_manifests)["Deployment"][0]["spec"]["template"]["spec"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "keys", "mountPath": "/run/secrets/functions-keys", "readOnly": True} in mounts
    assert {"name": "keys", "secret": {"secretName": keys["metadata"]["name"]}} in pod["volumes"]


def test_the_scaled_object_has_one_postgresql_query_per_signal(kube_manifests: list[dict[str, Any]]) -> None:
    auth, scaled = [d for d in kube_manifests if d["apiVersion"].startswith("keda.sh/")]
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"postgresql"}
    assert all(t["authenticationRef"]["name"] == auth["metadata"]["name"] for t in triggers)
    queries = " ".join(t["metadata"]["query"] for t in triggers)
    # One durable signal for the orchestration and the activity, on the app's own task hub.
    assert len(triggers) == 8 and queries.count("durable_inbox") == 1 and "hub = 'KubeHub'" in queries
    assert "queue = 'orders'" in queries  # %ORDERS_QUEUE% resolved from the app settings
    assert "entity = 'jobs'" in queries and "p.hub = 'telemetry'" in queries and "c.grp = '$default'" in queries
    # The Event Grid trigger runs in the HTTP deployment; the blob trigger with source="EventGrid" counts its own
    # subscription's deliveries.
    assert "'overcast_shop_orders..'" in queries and "subscription IN ('blobtrigger-evented')" in queries
    assert scaled["spec"]["minReplicaCount"] == 0  # every trigger has a signal: scales to zero
    assert auth["spec"]["secretTargetRef"][0]["key"] == "AzureWebJobsStorage"


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "kube", "--image", "i"], "must be a postgresql:// URL (it is an embedded connection)"),
    (["--name", "Kube_1", "--image", "i", "--connection", CONNECTION], "--name 'Kube_1' must be lower-case"),
    (["--name", "kube", "--image", "i", "--connection", "Server=tcp:db;Database=x"], "postgresql:// URL"),
    (["--name", "kube", "--image", "i", "--connection", CONNECTION, "--max-replicas", "-1"], "--max-replicas"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = run_manifests("--script-root", str(KUBE_APP), *args)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_the_dockerfile_is_written_beside_the_app_and_never_overwritten(tmp_path: Path) -> None:
    for name in ("host.json", "function_app.py", "requirements.txt"):
        (tmp_path / name).write_bytes((KUBE_APP / name).read_bytes())
    args = ["--script-root", str(tmp_path), "--name", "kube", "--image", "i", "--connection", CONNECTION,
            "--dockerfile", "-o", str(tmp_path / "k.yaml")]
    assert run_manifests(*args).returncode == 0
    text = (tmp_path / "Dockerfile").read_text()
    assert 'RUN pip install -r requirements.txt "overcast[postgres]==' in text
    assert 'CMD ["start", "--address", "0.0.0.0", "--port", "8080"]' in text
    assert "local.settings.json" in (tmp_path / ".dockerignore").read_text()
    (tmp_path / "Dockerfile").write_text("mine")
    assert "Kept the existing" in run_manifests(*args).stderr
    assert (tmp_path / "Dockerfile").read_text() == "mine"
