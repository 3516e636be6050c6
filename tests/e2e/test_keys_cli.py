"""``overcast keys`` as a subprocess: list/set/new/delete, where keys persist, and errors without tracebacks.

The parser is built here with ``add_keys_parser`` (as ``overcast.cli`` does) so the test depends on nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from overcast.backends.sqlite import SqliteStateStore
from overcast.web.keys import AuthLevel, KeyMatch, KeyRing

pytestmark = pytest.mark.e2e

_DRIVER = (
    "import argparse, sys\n"
    "from overcast.cli.keys import add_keys_parser, run_keys\n"
    "parser = argparse.ArgumentParser(prog='overcast')\n"
    "add_keys_parser(parser.add_subparsers(dest='command', required=True))\n"
    "raise SystemExit(run_keys(parser.parse_args(sys.argv[1:])))\n"
)
_SCRUBBED = (
    "OVERCAST_DATA_DIR", "OVERCAST_KEYS_DIR", "AzureWebJobsSecretStorageType", "AzureWebJobsKubernetesSecretName",
)


def keys_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items()
        if k not in _SCRUBBED and not k.lower().startswith(("host.", "functions."))
    }
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, "keys", *args],
        cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def listed(cwd: Path, *args: str) -> dict[str, Any]:
    done = keys_cli("list", "--json", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "function_app.py").write_text("")
    return root


def test_list_json_prints_the_snapshot(app: Path) -> None:
    snapshot = listed(app)
    assert list(snapshot) == ["master", "host", "system", "functions"]
    assert isinstance(snapshot["master"], str) and len(snapshot["master"]) >= 40
    assert list(snapshot["host"]) == ["default"]
    assert snapshot["system"] == {} and snapshot["functions"] == {}
    assert (app / ".overcast" / "overcast.db").is_file()
    assert listed(app) == snapshot  # generated once, then read


def test_set_new_delete_round_trip(app: Path) -> None:
    done = keys_cli("set", "ci", "ci-key-value", cwd=app)
    assert (done.returncode, done.stdout.strip()) == (0, "Created host function key 'ci'.")
    new = keys_cli("new", "--function", "HttpTrigger", "default", cwd=app)
    assert new.returncode == 0
    function_key = new.stdout.strip()
    assert len(function_key) >= 40
    assert keys_cli("set", "--system", "durabletask_extension", "system-value", cwd=app).returncode == 0
    master = keys_cli("new", "master", cwd=app).stdout.strip()
    snapshot = listed(app)
    assert snapshot["master"] == master
    assert snapshot["host"] == {"default": snapshot["host"]["default"], "ci": "ci-key-value"}
    assert snapshot["system"] == {"durabletask_extension": "system-value"}
    assert snapshot["functions"] == {"httptrigger": {"default": function_key}}
    # the running host reads the same file
    store = SqliteStateStore(app / ".overcast" / "overcast.db")
    try:
        keys = KeyRing(store, {})
        assert keys.authenticate(function_key, "HttpTrigger") == KeyMatch(AuthLevel.FUNCTION, "default")
        assert keys.authenticate(master, None) == KeyMatch(AuthLevel.ADMIN, "master")
        assert keys.authenticate("system-value", None) == KeyMatch(AuthLevel.SYSTEM, "durabletask_extension")
    finally:
        store.close()
    assert keys_cli("set", "ci", "ci-key-2", cwd=app).stdout.strip() == "Updated host function key 'ci'."
    assert keys_cli("delete", "ci", cwd=app).stdout.strip() == "Deleted host function key 'ci'."
    assert keys_cli("delete", "--function", "httptrigger", "default", cwd=app).returncode == 0
    assert keys_cli("delete", "--system", "durabletask_extension", cwd=app).returncode == 0
    after = listed(app)
    assert "ci" not in after["host"]
    assert after["system"] == {} and after["functions"] == {"httptrigger": {}}


def test_table_output(app: Path) -> None:
    keys_cli("set", "--function", "fn", "mine", "fn-key-value", cwd=app)
    done = keys_cli("list", cwd=app)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["KIND", "FUNCTION", "NAME", "VALUE"]
    assert lines[1].split()[:2] == ["master", "master"]
    assert ["function", "fn", "mine", "fn-key-value"] in [line.split() for line in lines]


def test_data_dir_option_environment_and_local_settings(app: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    keys_cli("set", "a", "value-a", "--data-dir", str(chosen), cwd=app)
    assert (chosen / "overcast.db").is_file()
    assert not (app / ".overcast").exists()
    assert listed(tmp_path, "--script-root", str(app), "--data-dir", str(chosen))["host"]["a"] == "value-a"
    before = keys_cli("--data-dir", str(chosen), "list", "--json", cwd=app)  # options before the sub-command too
    assert json.loads(before.stdout)["host"]["a"] == "value-a"
    from_env = keys_cli("list", "--json", cwd=app, env={"OVERCAST_DATA_DIR": str(chosen)})
    assert json.loads(from_env.stdout)["host"]["a"] == "value-a"
    (app / "local.settings.json").write_text(json.dumps({"Values": {"OVERCAST_DATA_DIR": str(chosen)}}))
    assert listed(app)["host"]["a"] == "value-a"


def test_pinned_keys_are_listed_and_refused(app: Path) -> None:
    pins = {"host.master": "pinned-master", "functions.fn.default": "pinned-fn"}
    done = keys_cli("list", "--json", cwd=app, env=pins)
    snapshot = json.loads(done.stdout)
    assert snapshot["master"] == "pinned-master"
    assert snapshot["functions"] == {"fn": {"default": "pinned-fn"}}
    refused = keys_cli("set", "master", "other-master", cwd=app, env=pins)
    assert refused.returncode == 1
    assert "pinned by environment variable 'host.master'" in refused.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("set", "k", "has space"), 2, "Invalid key value"),
        (("set", "--function", "fn", "--system", "k", "v"), 2, "--system"),
        (("delete", "missing"), 1, "no host function key 'missing'"),
        (("delete", "master"), 2, "Cannot delete System Key."),
        (("delete", "--function", "fn", "_hidden"), 2, "Cannot delete System Key."),
        (("list", "--script-root", "does-not-exist"), 2, "is not a directory"),
        (("frobnicate",), 2, "invalid choice"),
        ((), 2, "required"),
    ],
)
def test_errors_exit_non_zero_with_one_message(app: Path, args: tuple[str, ...], code: int, message: str) -> None:
    done = keys_cli(*args, cwd=app)
    assert done.returncode == code
    assert message in done.stderr
    assert done.stdout == ""


def test_store_errors_name_the_database(app: Path) -> None:
    (app / ".overcast").mkdir()
    (app / ".overcast" / "overcast.db").write_bytes(b"garbage" * 1000)
    done = keys_cli("list", cwd=app)
    assert done.returncode == 1
    assert "overcast.db" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_bad_local_settings_is_a_usage_error(app: Path) -> None:
    (app / "local.settings.json").write_text("{ not json")
    done = keys_cli("list", cwd=app)
    assert done.returncode == 2
    assert "local.settings.json" in done.stderr


def test_importing_the_cli_module_is_light() -> None:
    code = "import sys, overcast.cli.keys\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(done.stdout.split())
    assert not {"sqlite3", "overcast.web.keys", "overcast.backends.sqlite"} & modules
