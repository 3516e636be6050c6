"""Service Bus triggers and outputs on the embedded store (real SQLite, the CLI as a subprocess): peek-lock,
dead-lettering, sessions, schedules, topics and rules, batches, several workers, crashes and restarts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.hosting import APPS, run_overcast
from tests.e2e.test_queues import markers, wait_until

pytestmark = pytest.mark.e2e
APP = "servicebus"


def bus(host, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = run_overcast("servicebus", *args, "--script-root", str(host.app_dir), "--data-dir", str(host.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def counts(host) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    rows = [line.split("\t") for line in bus(host, "list").splitlines()[1:]]
    return {row[0]: (int(row[2]), int(row[3]), int(row[4])) for row in rows}


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def test_a_message_reaches_its_function_with_its_properties_and_outputs(start_host, marker_dir: Path) -> None:
    host = start_host(APP, env={"MARKER_DIR": str(marker_dir)})
    host.wait_for("No app setting 'ServiceBusConnection' exists: Service Bus for")
    bus(host, "send", "orders", '{"kind": "cli", "n": 1}', "-p", "color=red", "-p", "qty=3", "--subject", "hi",
        "--correlation-id", "c-1", "--message-id", "m-1", "--content-type", "application/json")
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the CLI message")
    got = markers(marker_dir, "orders")[0]
    assert got["properties"] == {"color": "red", "qty": 3} and got["subject"] == "hi"
    assert (got["message_id"], got["correlation_id"], got["content_type"]) == ("m-1", "c-1", "application/json")
    assert got["delivery_count"] == 1 and got["sequence_number"] == 1 and got["lock_token"]
    assert str(got["locked_until"]) > str(got["enqueued"])
    # An HTTP function's output (queue name from the route), then the trigger's output named from the JSON body.
    assert host.client.post("/api/send/orders", content=b'{"kind": "http", "n": 2}').status_code == 202
    wait_until(lambda: len(markers(marker_dir, "orders")) == 2, what="the HTTP function's message")
    wait_until(lambda: "done-http" in counts(host) and "done-cli" in counts(host), what="the trigger's outputs")
    assert json.loads(bus(host, "peek", "done-http"))["body"] == 'done:{"kind": "http", "n": 2}'
    host.wait_for("Executing 'Functions.orders' (Reason='New ServiceBus message detected on 'orders'.'")
    wait_until(lambda: counts(host)["orders"] == (0, 0, 0), what="both messages completed")
    # $return to a queue, with a str trigger parameter.
    bus(host, "send", "relay", "ping")
    wait_until(lambda: "relayed:ping" in bus(host, "peek", "relayed"), what="the $return output")


def test_dead_lettered_after_exactly_max_delivery_count(start_host, marker_dir: Path) -> None:
    host = start_host(APP, env={"MARKER_DIR": str(marker_dir)})
    bus(host, "send", "fail", "bad")
    wait_until(lambda: len(markers(marker_dir, "dead")) == 1, what="the dead-letter queue's trigger")
    assert [m["delivery_count"] for m in markers(marker_dir, "fail")] == [1, 2, 3]  # MaxDeliveryCount 3 (config)
    dead = markers(marker_dir, "dead")[0]
    assert dead["body"] == "bad" and dead["reason"] == "MaxDeliveryCountExceeded"
    assert dead["description"] == "Message could not be consumed after 3 delivery attempts."


def test_dead_letter_cli_resubmit_and_purge(start_host, marker_dir: Path, tmp_path: Path) -> None:
    host = start_host(APP, "--functions", "send", env={"MARKER_DIR": str(marker_dir)})
    app_dir = host.app_dir
    for body in ("one", "two"):
        bus(host, "send", "parked", body)
    # No function listens to 'parked': dead-letter through the store as a receiver would, then use the CLI.
    code = ("import sys; from pathlib import Path; from overcast.backends.pool import BackendPool;"
            "s = BackendPool(Path(sys.argv[1])).stores('embedded').servicebus;"
            "[s.dead_letter('parked', m.lock_token, 'Manual', 'by test') for m in s.receive('parked', 10)]")
    subprocess.run([sys.executable, "-c", code, str(host.data_dir)], check=True)
    assert counts(host)["parked"] == (0, 2, 0)
    dead = [json.loads(line) for line in bus(host, "deadletter", "parked").splitlines()]
    assert [(d["body"], d["deadLetterReason"]) for d in dead] == [("one", "Manual"), ("two", "Manual")]
    assert "Resubmitted 1 message(s)" in bus(host, "resubmit", "parked", str(dead[0]["sequenceNumber"]))
    assert counts(host)["parked"] == (1, 1, 0)
    assert "Deleted 1 message(s)" in bus(host, "purge", "parked/$deadletterqueue")
    assert "Deleted 1 message(s)" in bus(host, "purge", "parked")
    assert app_dir.exists()


def test_two_workers_complete_each_message_once(start_host, marker_dir: Path) -> None:
    host = start_host(APP, "--workers", "2", env={"MARKER_DIR": str(marker_dir)})
    for n in range(40):
        assert host.client.post("/api/send/orders", content=json.dumps({"kind": "w", "n": n})).status_code == 202
    wait_until(lambda: len(markers(marker_dir, "orders")) >= 40, what="40 messages")
    time.sleep(1)  # anything delivered twice would show up by now
    seen = sorted(json.loads(str(m["body"]))["n"] for m in markers(marker_dir, "orders"))
    assert seen == list(range(40))
    assert counts(host)["orders"] == (0, 0, 0)


def test_sessions_keep_order_across_two_instances(start_host, marker_dir: Path) -> None:
    host = start_host(APP, "--workers", "2", env={"MARKER_DIR": str(marker_dir)})
    sent: dict[str, list[str]] = {"A": [], "B": [], "C": []}
    for i in range(4):
        for session in sent:
            bus(host, "send", "sessions", f"{session}{i}", "--session-id", session)
            sent[session].append(f"{session}{i}")
    wait_until(lambda: sum(m["event"] == "end" for m in markers(marker_dir, "sessions")) == 12, what="12 messages")
    events = markers(marker_dir, "sessions")
    for session, bodies in sent.items():
        mine = [m for m in events if m["session"] == session]
        assert [m["body"] for m in mine if m["event"] == "end"] == bodies
        # One message of a session at a time: every start is followed by its own end.
        assert [m["event"] for m in mine] == ["start", "end"] * len(bodies)


def test_a_scheduled_message_waits_for_its_time(start_host, marker_dir: Path) -> None:
    host = start_host(APP, env={"MARKER_DIR": str(marker_dir)})
    due = time.time() + 3
    bus(host, "send", "orders", '{"kind": "later"}', "--schedule",
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + f".{int(due % 1 * 1e6):06d}Z")
    assert counts(host)["orders"] == (0, 0, 1)
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the scheduled message")
    assert float(markers(marker_dir, "orders")[0]["at"]) >= due  # type: ignore[arg-type]


def test_a_topic_fans_out_through_the_subscriptions_rules(start_host, marker_dir: Path) -> None:
    host = start_host(APP, env={"MARKER_DIR": str(marker_dir)})
    bus(host, "send", "events", "red-one", "-p", "color=red")
    bus(host, "send", "events", "blue-one", "-p", "color=blue")
    bus(host, "send", "events", "labelled", "--subject", "red")
    assert host.client.post("/api/publish", content=b"from-http").status_code == 202
    wait_until(lambda: len(markers(marker_dir, "events-all")) == 4, what="the 'all' subscription")
    wait_until(lambda: len(markers(marker_dir, "events-red")) == 2, what="the 'red' subscription")
    assert sorted(m["body"] for m in markers(marker_dir, "events-all")) == [
        "blue-one", "from-http", "labelled", "red-one"]
    red = markers(marker_dir, "events-red")
    assert sorted(m["body"] for m in red) == ["labelled", "red-one"]
    assert {m["rule"] for m in red} == {"red-only"}  # the rule's action gives its copy a RuleName


def test_a_batch_of_many(start_host, marker_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "batch-data"
    for n in range(5):
        result = run_overcast("servicebus", "send", "batch", f"b{n}", "--script-root", str(APPS / APP),
                              "--data-dir", str(data_dir))
        assert result.returncode == 0, result.stderr
    start_host(APP, data_dir=data_dir, env={"MARKER_DIR": str(marker_dir)})
    wait_until(lambda: len(markers(marker_dir, "batch")) == 1, what="the batch")
    assert markers(marker_dir, "batch")[0]["bodies"] == [f"b{n}" for n in range(5)]


def test_a_killed_instances_message_comes_back_after_its_lock(start_host, marker_dir: Path) -> None:
    host = start_host(APP, env={"MARKER_DIR": str(marker_dir)})
    bus(host, "send", "slow", "work")
    wait_until(lambda: len(markers(marker_dir, "slow")) == 1, what="the first attempt to start")
    pid = int(markers(marker_dir, "slow")[0]["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: any(m["event"] == "finish" for m in markers(marker_dir, "slow")), what="the redelivery")
    finish = next(m for m in markers(marker_dir, "slow") if m["event"] == "finish")
    assert finish["delivery_count"] == 2 and finish["pid"] != pid


def test_messages_survive_a_restart(start_host, marker_dir: Path, tmp_path: Path) -> None:
    host = start_host(APP, "--functions", "send", env={"MARKER_DIR": str(marker_dir)})
    for n in range(3):
        assert host.client.post("/api/send/orders", content=json.dumps({"kind": "r", "n": n})).status_code == 202
    assert host.stop() == 0
    assert counts(host)["orders"] == (3, 0, 0)
    start_host(APP, data_dir=host.data_dir, env={"MARKER_DIR": str(marker_dir)})
    wait_until(lambda: len(markers(marker_dir, "orders")) == 3, what="the messages after the restart")


def test_a_bad_entity_config_stops_the_start_with_one_line(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(APPS / APP, app_dir)
    config = app_dir / "servicebus.config.json"
    config.write_text(config.read_text().replace('"PT5S"', '"5 seconds"', 1))
    result = run_overcast("start", "--script-root", str(app_dir), "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 3
    assert ("Service Bus entity config '" in result.stderr and
            "Queues[0].Properties.LockDuration: '5 seconds' is not a duration" in result.stderr)


def test_a_real_namespace_is_a_clear_function_error(start_host, marker_dir: Path) -> None:
    env = {"MARKER_DIR": str(marker_dir),
           "ServiceBusConnection": "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;"
                                   "SharedAccessKey=c2VjcmV0"}
    host = start_host(APP, env=env)
    line = host.wait_for("The 'orders' function is in error")
    assert "points at a Service Bus namespace" in line and "c2VjcmV0" not in host.output
    emulator = {"MARKER_DIR": str(marker_dir), "ServiceBusConnection": "Endpoint=sb://localhost;"
                "SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"}
    other = start_host(APP, env=emulator)
    other.wait_for("App setting 'ServiceBusConnection' holds the Service Bus emulator's connection string")
    bus(other, "send", "orders", '{"kind": "emulator"}')
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the message through the emulator string")
