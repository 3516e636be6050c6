"""Operating on PostgreSQL: a database that cannot be used is one clear line and exit 3 at start; a database that
goes away under load is survived (instances report not-ready, back off, reconnect, and lose nothing); ``overcast db
status|migrate``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.hosting import APPS, free_port, run_overcast
from tests.e2e.pg_cluster import ThrowawayCluster, enqueue, private_database, query, queued_json, server

APP = str(APPS / "pg_scale")


def _wait(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _refused_start(url: str, data_dir: Path) -> list[str]:
    """``overcast start`` on ``url``: it must stop with exit 3; the lines it printed."""
    done = run_overcast("start", "--script-root", APP, "--port", str(free_port()), "--data-dir", str(data_dir),
                        env={"AzureWebJobsStorage": url}, timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def test_an_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    lines = _refused_start("postgresql://postgres:secret-pw@127.0.0.1:1/nowhere", tmp_path / "d")
    assert any("cannot connect" in line and "127.0.0.1:1" in line for line in lines), lines
    assert not any("secret-pw" in line for line in lines)


def test_a_missing_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    base = server()
    url = base.rsplit("/", 1)[0] + "/overcast_no_such_database"
    lines = _refused_start(url, tmp_path / "d")
    said = [line for line in lines if "overcast_no_such_database" in line]
    assert len(said) == 1 and "does not exist" in said[0] and "create the database" in said[0], lines


def test_a_wrong_password_is_one_line_and_exit_3(tmp_path: Path) -> None:
    cluster = ThrowawayCluster(free_port(), password="right-pw")
    try:
        wrong = cluster.url.replace("right-pw", "wrong-pw")
        lines = _refused_start(wrong, tmp_path / "d")
        said = [line for line in lines if "password authentication failed" in line]
        assert len(said) == 1 and "check the user name and password" in said[0], lines
        assert not any("wrong-pw" in line or "right-pw" in line for line in lines), lines
        # The right password is let in: the refusal above was about the password, not the server.
        migrated = run_overcast("db", "migrate", "--connection", cluster.url, "--script-root", APP)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    finally:
        cluster.destroy()


def test_a_missing_privilege_is_one_line_and_exit_3(tmp_path) -> None:
    base = server()
    query(base, "DROP ROLE IF EXISTS overcast_e2e_reader")
    query(base, "CREATE ROLE overcast_e2e_reader LOGIN")
    try:
        url = base.replace("postgres@", "overcast_e2e_reader@", 1) + "?options=-csearch_path%3Dnot_allowed_here"
        done = run_overcast("start", "--script-root", APP, "--port", str(free_port()), "--data-dir",
                            str(tmp_path / "d"), env={"AzureWebJobsStorage": url})
        assert done.returncode == 3, done.stdout + done.stderr
        assert "permission denied" in done.stderr and "grant the role CREATE" in done.stderr
    finally:
        query(base, "DROP ROLE IF EXISTS overcast_e2e_reader")


def test_db_status_and_migrate(tmp_path) -> None:
    with private_database(server()) as url:
        before = run_overcast("db", "status", "--connection", url, "--script-root", APP)
        assert before.returncode == 0 and "not created yet" in before.stdout
        migrated = run_overcast("db", "migrate", "--connection", url, "--script-root", APP)
        assert migrated.returncode == 0 and "applied 1" in migrated.stdout
        after = run_overcast("db", "status", "--connection", url, "--script-root", APP)
        assert "up to date" in after.stdout
        again = run_overcast("db", "migrate", "--connection", url, "--script-root", APP)
        assert "nothing to apply" in again.stdout


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    found = ThrowawayCluster(free_port())
    try:
        yield found
    finally:
        found.destroy()


def test_a_database_restarted_under_load_loses_nothing(start_host, cluster: ThrowawayCluster) -> None:
    url = cluster.url
    env = {"AzureWebJobsStorage": url, "AzureFunctionsWebHost__hostid": "pg-restart", "PG_SCALE_WORK_SECONDS": "0.005",
           "OVERCAST_QUEUE_LEASE_SECONDS": "5"}
    hosts = [start_host("pg_scale", env=env, ready=False) for _ in range(2)]
    for host in hosts:
        host.wait_ready(timeout=60)
    total = 1500
    enqueue(url, "work", [f"r{i}" for i in range(total)])
    _wait("work in progress", lambda: query(url, "SELECT count(*) FROM queue_messages WHERE queue = 'done'")[0][0]
          >= 150, timeout=60)
    cluster.stop()
    _wait("not ready", lambda: hosts[0].client.get("/runtime/health/ready").status_code == 503, timeout=20)
    assert hosts[0].client.get("/runtime/health/live").status_code == 200
    time.sleep(3)  # the instances back off meanwhile; none may exit
    assert all(host.proc.poll() is None for host in hosts)
    cluster.start()
    _wait("every message", lambda: query(url, "SELECT count(*) FROM queue_messages WHERE queue = 'work'")[0][0] == 0,
          timeout=240)
    _wait("ready again", lambda: all(h.client.get("/runtime/health/ready").status_code == 200 for h in hosts),
          timeout=30)
    time.sleep(1)
    done = {item["body"] for item in queued_json(url, "done")}
    assert done == {f"r{i}" for i in range(total)}
    assert all(host.proc.poll() is None for host in hosts)
