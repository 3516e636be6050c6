"""``extensions.durableTask.storageProvider`` ``{"type": "postgresql", "connectionStringName": ...}``: the task hub
in PostgreSQL while the app's other stores stay embedded; a setting that is missing or not a URL stops the start."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from tests.e2e.hosting import APPS, free_port, run_overcast
from tests.e2e.pg_cluster import private_database, query, server


def _app(tmp_path: Path, provider: dict[str, str]) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(APPS / "pg_scale" / "function_app.py", app / "function_app.py")
    (app / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": {
        "hubName": "ProviderHub", "storageProvider": provider}}}))
    return app


def test_the_hub_lives_in_the_database_the_provider_names(start_host, tmp_path) -> None:
    with private_database(server()) as url:
        app = _app(tmp_path, {"type": "postgresql", "connectionStringName": "DurableDb"})
        host = start_host("pg_scale", app_dir=app, env={"DurableDb": url}, ready=False)
        host.wait_ready(timeout=60)
        instance_id = host.client.post("/api/fanout/5").text
        deadline = time.monotonic() + 60
        while host.client.get(f"/api/status/{instance_id}").json()["runtimeStatus"] != "Completed":
            assert time.monotonic() < deadline, host.output
            time.sleep(0.2)
        rows = query(url, "SELECT hub, status FROM durable_instances WHERE instance_id = %s", instance_id)
        assert rows == [("ProviderHub", "Completed")]
        assert query(url, "SELECT count(*) FROM queue_messages")[0][0] == 0  # the queues stayed embedded


def test_a_provider_setting_that_is_not_a_url_stops_the_start(tmp_path) -> None:
    app = _app(tmp_path, {"type": "postgresql", "connectionStringName": "DurableDb"})
    done = run_overcast("start", "--script-root", str(app), "--port", str(free_port()), "--data-dir",
                        str(tmp_path / "d"), env={"DurableDb": "UseDevelopmentStorage=true"})
    assert done.returncode == 3
    assert "storageProvider names the setting 'DurableDb', which is not a postgresql:// URL" in done.stderr
