"""Start options and settings that change behaviour: allow-list, verbosity, thread pool, extensions, env."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_functions_allow_list(start_host) -> None:
    host = start_host("basic", "--no-auth", "--functions", "hello", "ahello", "--verbose")
    assert host.client.get("/api/hello").status_code == 200
    assert host.client.get("/api/ahello").status_code == 200
    assert host.client.get("/api/echo").status_code == 404
    host.wait_for("A function allow list has been specified, excluding all but the following functions: "
                  "[hello, ahello]")
    assert "\techo:" not in host.output


def test_local_settings_values_become_environment_but_never_override(start_host) -> None:
    host = start_host("basic", "--no-auth", env={"AzureWebJobsStorage": "from-real-env"})
    assert host.client.get("/api/env/FROM_LOCAL_SETTINGS").text == "local"
    assert host.client.get("/api/env/AzureWebJobsStorage").text == "from-real-env"
    assert host.client.get("/api/env/FUNCTIONS_WORKER_RUNTIME").text == "python"


def test_thread_pool_size_setting(start_host) -> None:
    host = start_host("basic", "--no-auth", env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    names = {host.client.get("/api/thread").text for _ in range(5)}
    assert names == {"overcast-sync_0"}


def test_worker_extension_hooks_run_in_order(start_host) -> None:
    host = start_host("extensions", env={"PYTHON_ENABLE_WORKER_EXTENSIONS": "1"})
    calls = host.client.get("/api/calls").text.split("|")[0].split(",")
    assert calls == ["init", "loaded:calls", "pre:calls", "function"]
    second = host.client.get("/api/calls").text.split("|")[0].split(",")
    assert second[4:] == ["post:calls", "pre:calls", "function"]


def test_worker_extension_hooks_off_by_default(start_host) -> None:
    host = start_host("extensions")
    assert host.client.get("/api/calls").text.split("|")[0] == "init,function"


def test_keys_survive_a_restart(start_host, tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    first = start_host("basic", data_dir=data)
    before = first.keys()
    key = before["functions"]["secure"]["default"]
    first.stop()
    second = start_host("basic", data_dir=data)
    assert second.keys() == before
    assert second.client.get("/api/secure", params={"code": key}).status_code == 200


def test_hsts_and_custom_headers(start_host, tmp_path: Path) -> None:
    import shutil

    from tests.e2e.hosting import APPS

    app = tmp_path / "app"
    shutil.copytree(APPS / "basic", app)
    (app / "host.json").write_text(
        '{"version": "2.0", "extensions": {"http": {"hsts": {"isEnabled": true, "maxAge": "1.00:00:00"}, '
        '"customHeaders": {"X-Frame-Options": "DENY"}}}}'
    )
    host = start_host("basic", "--no-auth", app_dir=app)
    response = host.client.get("/api/hello")
    assert response.headers["strict-transport-security"] == "max-age=86400"
    assert response.headers["x-frame-options"] == "DENY"
    assert host.client.get("/api/missing").headers["x-frame-options"] == "DENY"
