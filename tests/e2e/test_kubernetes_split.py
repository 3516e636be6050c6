"""The Kubernetes manifests run as their pods would, without a cluster: each Deployment's environment (its own
variables and the settings Secret) and the keys Secret as the mounted folder, one `overcast start` per Deployment on
one PostgreSQL database. The HTTP pod's durable client starts an orchestration that only the background pod runs;
both pods accept the pinned function key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hosting import APPS, RunningHost, run_overcast
from tests.e2e.pg_cluster import private_database, server

pytestmark = pytest.mark.e2e
APP = APPS / "kube"


def pod_env(manifests: list[dict[str, Any]], deployment: str, keys_dir: Path) -> dict[str, str]:
    """What a container of ``deployment`` sees: the settings Secret (envFrom), its own env, the keys folder."""
    secrets = {d["metadata"]["name"]: d["stringData"] for d in manifests if d["kind"] == "Secret"}
    [found] = [d for d in manifests if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment]
    [container] = found["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(secrets[source["secretRef"]["name"]])
    env.update({item["name"]: item["value"] for item in container["env"]})
    env.pop("OVERCAST_DATA_DIR")  # a pod's own folder: the test gives each its own
    keys = secrets["kube-keys"]
    for name, value in keys.items():
        (keys_dir / name).write_text(value)
    return {**env, "OVERCAST_KEYS_DIR": str(keys_dir)}


def test_the_manifests_split_runs_an_orchestration_across_the_two_deployments(start_host, tmp_path: Path) -> None:
    import yaml

    with private_database(server()) as url:
        out = tmp_path / "kube.yaml"
        made = run_overcast("kubernetes", "manifests", "--script-root", str(APP), "--name", "kube", "--image", "i",
                            "--connection", url, "-o", str(out))
        assert made.returncode == 0, made.stderr
        manifests = [doc for doc in yaml.safe_load_all(out.read_text()) if doc]
        hosts: dict[str, RunningHost] = {}
        for component in ("http", "background"):
            keys_dir = tmp_path / f"keys-{component}"
            keys_dir.mkdir()
            hosts[component] = start_host("kube", env=pod_env(manifests, f"kube-{component}", keys_dir),
                                          data_dir=tmp_path / f"pod-{component}")
        http, background = hosts["http"], hosts["background"]
        key = (tmp_path / "keys-http" / "host.function.default").read_text()
        assert http.client.get("/api/hello").status_code == 401  # keys are enforced, and pinned
        assert http.client.get("/api/hello", params={"code": key}).text == "hello"
        started = http.client.get("/api/start/greet", params={"code": key})
        assert started.status_code == 202, started.text + http.output
        status_url = started.json()["statusQueryGetUri"]
        deadline = time.monotonic() + 60
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = http.client.get(status_url).json()
            if status["runtimeStatus"] in ("Completed", "Failed"):
                break
            time.sleep(0.2)
        assert (status.get("runtimeStatus"), status.get("output")) == ("Completed", "hello kube"), (
            status, http.output, background.output)
        assert "Executed 'Functions.greet' (Succeeded" in background.output
        assert "Functions.greet" not in http.output and "Functions.say" not in http.output
        assert background.client.get("/api/hello", params={"code": key}).status_code == 404  # not its function
