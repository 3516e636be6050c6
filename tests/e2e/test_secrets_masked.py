"""No log line, error or status page shows a secret: an app full of them (account keys, SAS signatures, service
bus keys, URL and SQL passwords), with functions in error because of them, functions that log and raise them,
verbose logging everywhere; every line of output and the admin JSON are searched for the secret values."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e
SECRET_MARK = "S3cret"  # every secret value in apps/secrets/local.settings.json contains it


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_secrets_never_reach_logs_errors_or_status(start_host) -> None:
    host = start_host("secrets", "--verbose", "--user-log-level", "Debug")
    keys = host.keys()
    master = str(keys["master"])
    functions = keys["functions"]
    assert isinstance(functions, dict)
    admin = {"x-functions-key": master}
    for route in ("leak", "fail"):
        host.client.get(f"/api/{route}", params={"code": functions[route]["default"]})
    host.wait_for("sig=***")
    host.wait_for("Executed 'Functions.fail' (Failed")
    pages = [host.client.get("/admin/host/status", headers=admin).text,
             host.client.get("/admin/functions", headers=admin).text]
    for name in ("on_account_key", "on_sas", "to_sql", "leak", "fail"):
        status = host.client.get(f"/admin/functions/{name}/status", headers=admin)
        assert status.status_code == 200
        pages.append(status.text)
    host.stop()
    lines = host.output.splitlines()
    # The functions are in error because of their connections, and say so without the value.
    assert [line for line in lines if "The 'on_account_key' function is in error" in line]
    assert [line for line in lines if "The 'to_sql' function is in error" in line]
    assert "errors" in pages[2]
    leaked = [line for line in lines + pages if SECRET_MARK in line]
    assert not leaked, "\n".join(leaked)
    assert "AccountKey=***" in host.output and "Password=***" in host.output and "admin:***@" in host.output
    # Keys: only the start banner prints ?code= URLs (on loopback, by design); no log line or page shows one.
    log_lines = [line for line in lines if line.startswith("[")]
    all_keys = [k for k in _strings(keys) if len(k) >= 20]
    assert master in all_keys and len(all_keys) >= 6
    for key in all_keys:
        assert not [line for line in log_lines + pages if key in line], key
