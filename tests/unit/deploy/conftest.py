"""The manifests of the ``kube`` test app, written once by the real command, and KEDA's schemas from npm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
KUBE_APP = ROOT / "tests" / "e2e" / "apps" / "kube"
KEDA_MODELS = "@kubernetes-models/keda@0.4.2"  # KEDA's CRD schemas compiled to validators (npm)
NPM_CACHE = ROOT / ".cache" / "npm-keda"
CONNECTION = "postgresql://app:secret@db.example:5432/app"


def run_manifests(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AzureWebJobsStorage"}
    return subprocess.run([sys.executable, "-m", "overcast", "kubernetes", "manifests", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def kube_manifests() -> list[dict[str, Any]]:
    done = run_manifests("--script-root", str(KUBE_APP), "--name", "kube", "--image", "example/kube:1",
                         "--namespace", "apps", "--connection", CONNECTION)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def keda_validate() -> Callable[[dict[str, Any]], str]:
    """Validates a KEDA object with the npm package's validator (the CRD's openAPIV3Schema); '' when valid."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        if os.environ.get("CI"):
            pytest.fail("npm and node are needed to validate KEDA objects against KEDA's schemas (CI runs it)")
        pytest.skip("npm/node not installed: KEDA schema validation skipped")
    marker = NPM_CACHE / "node_modules" / "@kubernetes-models" / "keda" / "package.json"
    if not marker.is_file():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE),
                        KEDA_MODELS], check=True, timeout=300)
    script = (
        "const [kind, text] = [process.argv[1], require('fs').readFileSync(0, 'utf8')];"
        "const Model = require(`@kubernetes-models/keda/keda.sh/v1alpha1/${kind}`)[kind];"
        "try { new Model(JSON.parse(text)).validate(); } catch (e) { process.stdout.write(String(e.message)); }"
    )

    def validate(document: dict[str, Any]) -> str:
        done = subprocess.run([node, "-e", script, document["kind"]], input=json.dumps(document), text=True,
                              capture_output=True, cwd=NPM_CACHE, timeout=60, check=True,
                              env={**os.environ, "NODE_PATH": str(NPM_CACHE / "node_modules")})
        return done.stdout

    return validate
