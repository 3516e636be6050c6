"""``overcast durable``: the CLI functions against a real (SQLite) store in a temporary data dir."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from overcast.cli.durable import add_durable_parser, parse_duration, run_durable, shorten, timeline
from overcast.durable.core import history as h
from overcast.durable.core.model import RuntimeStatus
from overcast.durable.store import DurableStore, EpisodeCommit, EventDict, InstanceUpdate, NewOrchestration
from overcast.durable.store.backends import open_durable_store

HUB = "CliHub"
T = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T.timestamp() + seconds, timezone.utc)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": {
        "hubName": HUB}}}))
    return tmp_path


class Seed:
    """Writes instances as the engine would leave them, with a controllable creation time."""

    def __init__(self, data_dir: Path) -> None:
        self.now = time.time()
        self.store: DurableStore = open_durable_store(data_dir, lambda: self.now)

    def instance(self, instance_id: str, status: str, output: str | None = None, *, name: str = "hello",
                 input_text: str | None = '"x"', events: tuple[EventDict, ...] = (), hub: str = HUB) -> None:
        execution_id = uuid.uuid4().hex
        started = h.execution_started(name=name, instance_id=instance_id, execution_id=execution_id,
                                      input_json=input_text, now=at(0))
        created, _ = self.store.create_instance(hub, NewOrchestration(instance_id, name, execution_id, input_text,
                                                                      started))
        assert created
        if status == "Pending":
            return
        [lease] = self.store.lease_orchestrations(hub, "seed", 30, 1)
        assert lease.instance_id == instance_id
        commit = EpisodeCommit(consumed=[m.id for m in lease.messages],
                               events=[h.orchestrator_started(at(0)), *(m.event for m in lease.messages), *events],
                               update=InstanceUpdate(status, output))
        assert self.store.commit_episode(lease, commit)

    def inbox(self, hub: str = HUB) -> list[EventDict]:
        self.now = time.time() + 1  # the CLI stamps its messages with the real clock
        leases = self.store.lease_orchestrations(hub, "peek", 30, 1)
        if not leases:
            return []
        lease = leases[0]
        self.store.release_lease(lease)
        return [m.event for m in lease.messages]


@pytest.fixture
def seed(app: Path) -> Iterator[Seed]:
    seeded = Seed(app / ".overcast")
    yield seeded
    seeded.store.close()


def cli(app: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="overcast")
    add_durable_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["durable", *argv, "--script-root", str(app)])
    return run_durable(args)


def test_list_shows_a_table_and_filters(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(app, "list") == 0
    assert capsys.readouterr().out.strip() == f"No orchestration instances in task hub '{HUB}'."
    seed.instance("order-1", "Completed", '"ok"')
    seed.now += 10
    seed.instance("order-2", "Running")
    seed.instance("other", "Failed", name="chain")
    assert cli(app, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["INSTANCE", "ID", "NAME", "STATUS", "CREATED", "UPDATED"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["order-1", "hello", "Completed"], ["order-2", "hello", "Running"], ["other", "chain", "Failed"]]
    assert cli(app, "list", "--status", "running", "failed", "--id-prefix", "order") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["order-2"]
    assert cli(app, "list", "--json", "--status", "Completed") == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["instanceId"] == "order-1" and json.loads(line)["output"] == "ok"


def test_an_unknown_status_is_a_usage_error(app: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(app, "list", "--status", "Bogus")
    assert exit_info.value.code == 2


def test_show_prints_the_instance_and_a_timeline(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str]) -> None:
    events = (
        h.task_scheduled(0, "say_hello", '"Tokyo"', at(0)),
        h.orchestrator_completed(at(0)),
        h.orchestrator_started(at(2.5)),
        h.task_completed(0, '"Hello Tokyo! ' + "x" * 100 + '"', at(2.5)),
        h.task_scheduled(1, "fails", None, at(2.5)),
        h.task_failed(1, "Activity function 'fails' failed:  ValueError: no", "Traceback", at(3)),
        h.execution_completed(2, RuntimeStatus.FAILED, "Orchestrator function 'hello' failed: no", at(3)),
    )
    seed.instance("shown", "Failed", "Orchestrator function 'hello' failed: no", events=events)
    assert cli(app, "show", "shown") == 0
    out = capsys.readouterr().out
    assert "Instance   shown" in out and "Status     Failed" in out and 'Input      "x"' in out
    lines = [line for line in out.splitlines() if line.startswith(" ") and "s  " in line]
    assert [line.split()[1] for line in lines] == [
        "ExecutionStarted", "TaskScheduled", "TaskCompleted", "TaskScheduled", "TaskFailed", "ExecutionCompleted"]
    completed = lines[2]
    assert completed.split()[0] == "+2.500s" and "#0 say_hello  result" in completed and completed.endswith("…")
    assert "#1 fails  error Activity function 'fails' failed: ValueError: no" in lines[4]
    assert "Failed  result Orchestrator function 'hello' failed: no" in lines[5]
    assert cli(app, "show", "shown", "--all") == 0
    assert "OrchestratorStarted" in capsys.readouterr().out
    assert cli(app, "show", "shown", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["runtimeStatus"] == "Failed" and payload["historyEvents"][0]["EventType"] == "ExecutionStarted"


def test_show_of_an_unknown_instance_fails(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(app, "show", "nobody") == 1
    assert f"No orchestration instance 'nobody' in task hub '{HUB}'" in capsys.readouterr().err


def test_raise_sends_the_json_as_given(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str]) -> None:
    seed.instance("waiting", "Running")
    assert cli(app, "raise", "waiting", "Approval", '{"ok": true}') == 0
    assert "Raised 'Approval' to 'waiting'." in capsys.readouterr().out
    [event] = seed.inbox()
    assert (event["EventType"], event["Name"], event["Input"]) == (h.EventType.EVENT_RAISED, "Approval",
                                                                   '{"ok": true}')


@pytest.mark.parametrize(("status", "argv", "message"), [
    ("Running", ["raise", "i", "e", "{not json"], "The event data must be JSON"),
    ("Completed", ["raise", "i", "e"], "is Completed: it cannot receive events"),
    ("Terminated", ["terminate", "i"], "is Terminated: it cannot be terminated"),
    ("Running", ["purge", "i"], "is Running. Terminate it first"),
    ("Running", ["purge"], "Say what to purge"),
    ("Running", ["purge", "i", "--status", "Completed"], "not both"),
    ("Running", ["terminate", "nobody"], "No orchestration instance 'nobody'"),
])
def test_refusals_exit_1_with_a_message(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str], status: str,
                                        argv: list[str], message: str) -> None:
    seed.instance("i", status)
    assert cli(app, *argv) == 1
    assert message in capsys.readouterr().err


def test_terminate_sends_the_reason(app: Path, seed: Seed) -> None:
    seed.instance("long", "Suspended")
    assert cli(app, "terminate", "long", "--reason", "enough") == 0
    [event] = seed.inbox()
    assert (event["EventType"], event["Input"]) == (h.EventType.EXECUTION_TERMINATED, "enough")


def test_purge_one_instance(app: Path, seed: Seed) -> None:
    seed.instance("done", "Completed")
    seed.instance("busy", "Running")
    assert cli(app, "purge", "done") == 0
    assert cli(app, "purge", "busy", "--force") == 0
    assert seed.store.get_instance(HUB, "done") is None and seed.store.get_instance(HUB, "busy") is None


def test_purge_by_filters(app: Path, seed: Seed, capsys: pytest.CaptureFixture[str]) -> None:
    seed.now = time.time() - 3 * 86400
    seed.instance("old-done", "Completed")
    seed.instance("old-failed", "Failed")
    seed.instance("old-running", "Running")
    seed.now = time.time()
    seed.instance("new-done", "Completed")
    assert cli(app, "purge", "--older-than", "2d") == 0
    assert "Purged 2 instance(s)." in capsys.readouterr().out
    left = sorted(r.instance_id for r in seed.store.query_instances(HUB, _all()).items)
    assert left == ["new-done", "old-running"]
    assert cli(app, "purge", "--status", "Completed") == 0
    assert "Purged 1 instance(s)." in capsys.readouterr().out


def _all() -> Any:
    from overcast.durable.store import InstanceQuery

    return InstanceQuery()


def test_the_hub_comes_from_host_json_or_the_option(app: Path, seed: Seed,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    seed.instance("elsewhere", "Completed", hub="Other")
    assert cli(app, "list") == 0
    assert "No orchestration instances in task hub 'CliHub'" in capsys.readouterr().out
    assert cli(app, "list", "--hub", "Other") == 0
    assert "elsewhere" in capsys.readouterr().out
    (app / "host.json").write_text('{"version": "2.0"}')
    assert cli(app, "list") == 0
    assert "task hub 'TestHubName'" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400),
                                               ("1.5D", 129600), ("1w", 604800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "d", "1y", "-1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("value", "limit", "shown"), [
    (None, 10, ""), ("short", 10, "short"), ("a\n  b", 10, "a b"), ("x" * 12, 10, "x" * 9 + "…"),
    ({"a": 1}, 20, '{"a": 1}'),
])
def test_shorten(value: Any, limit: int, shown: str) -> None:
    assert shorten(value, limit) == shown


def test_timeline_of_an_empty_history_is_empty() -> None:
    assert timeline([]) == []
