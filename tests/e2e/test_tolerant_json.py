"""Configuration JSON as the host reads it: comments, trailing commas and a byte order mark in host.json,
local.settings.json and function.json (Microsoft's own samples have them); a broken function.json is one error
for that function, naming the file, line and column, and the other functions still load."""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from tests.e2e.hosting import APPS

pytestmark = pytest.mark.e2e

HOST_JSON = """{
  // as `func init` writes it, plus comments
  "version": "2.0",
  "logging": {
    "logLevel": {"default": "Information",}, /* trailing comma above */
  },
}
"""
LOCAL_SETTINGS = """{
  "IsEncrypted": false,
  "Values": {
    // a comment where people put them
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "GREETING": "hello from a commented file",
  },
}
"""
FUNCTION_JSON = """{
  "scriptFile": "__init__.py",
  "bindings": [
    {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req", "methods": ["get",],},
    {"type": "http", "direction": "out", "name": "$return"},
  ]
}
"""
BROKEN_FUNCTION_JSON = (
    '{\n  "scriptFile": "__init__.py",\n  "bindings": [\n    {"type": "httpTrigger" "name": "req"}\n  ]\n}\n'
)


def make_app(root: Path) -> Path:
    app = root / "app"
    shutil.copytree(APPS / "v1app", app)
    (app / "host.json").write_bytes(codecs.BOM_UTF8 + HOST_JSON.encode())
    (app / "local.settings.json").write_text(LOCAL_SETTINGS)
    (app / "HttpV1" / "function.json").write_bytes(codecs.BOM_UTF8 + FUNCTION_JSON.encode())
    shutil.copytree(app / "HttpV1", app / "Broken")
    (app / "Broken" / "function.json").write_text(BROKEN_FUNCTION_JSON)
    shutil.copytree(app / "HttpV1", app / "Wide")
    (app / "Wide" / "function.json").write_bytes(codecs.BOM_UTF16_LE + FUNCTION_JSON.encode("utf-16-le"))
    return app


def test_commented_files_with_trailing_commas_load(start_host, tmp_path: Path) -> None:
    app = make_app(tmp_path)
    host = start_host("v1app", "--verbose", app_dir=app)
    assert host.client.get("/api/HttpV1", params={"name": "x"}).status_code == 200
    assert host.client.get("/api/Wide", params={"name": "x"}).status_code == 200
    assert host.client.get("/api/Broken").status_code == 404
    host.stop()
    errors = [line for line in host.output.splitlines() if "function is in error" in line]
    assert len(errors) == 1, host.output  # reported once, not once per consequence
    assert "'Broken'" in errors[0]
    assert str(app / "Broken" / "function.json") in errors[0] and "line 4, column 28" in errors[0]
