"""Event Hubs trigger and output on the embedded store: the CLI as a subprocess, real SQLite, several instances.

The app (apps/eventhubs) declares its hubs in the emulator's config shape and balances partitions every second with
4 s ownership expiry (host.json), so a rebalance after a kill takes seconds, not the extension's default half minute.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.hosting import run_overcast

pytestmark = pytest.mark.e2e


def markers(folder: Path, name: str) -> list[dict[str, object]]:
    path = folder / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(predicate, timeout: float = 40, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def cli(host, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = run_overcast("eventhubs", *args, "--script-root", str(host.app_dir), "--data-dir", str(host.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def owners(host, hub: str, group: str = "$Default") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """partition -> owner (``host:pid:id``) from ``overcast eventhubs list``."""
    found: dict[str, str] = {}
    section = None
    for line in cli(host, "list").splitlines():
        if not line.startswith(" "):
            section = line.split("\t")[0]
            group_now = None
        elif line.startswith("  consumer group "):
            group_now = line.split("\t")[0].removeprefix("  consumer group ")
        elif line.startswith("    partition ") and section == hub and group_now == group:
            fields = dict(part.split("=", 1) for part in line.split("\t")[1:])
            if fields["owner"] != "-":
                found[line.split("\t")[0].split()[-1]] = fields["owner"]
    return found


def checkpoints(host, hub: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    found: dict[str, int] = {}
    section, group_now = None, None
    for line in cli(host, "list").splitlines():
        if not line.startswith(" "):
            section = line.split("\t")[0]
        elif line.startswith("  consumer group "):
            group_now = line.split("\t")[0].removeprefix("  consumer group ")
        elif line.startswith("    partition ") and section == hub and group_now == "$Default":
            fields = dict(part.split("=", 1) for part in line.split("\t")[1:])
            if fields["checkpoint"] != "-":
                found[line.split("\t")[0].split()[-1]] = int(fields["checkpoint"])
    return found


def by_partition(records: list[dict[str, object]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for record in records:
        found.setdefault(str(record["partition"]), []).append(int(record["seq"]))  # type: ignore[call-overload]
    return found


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def test_an_event_reaches_its_function_with_the_extensions_metadata(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)})
    sent = cli(host, "send", "orders", "hello", "--partition-key", "7", "--property", "kind=order")
    assert sent.strip() == "partition 3 sequence 0"  # "7" hashes to -15263 as on Azure; 15263 % 4 == 3
    wait_until(lambda: len(markers(marker_dir, "orders")) == 1, what="the orders event")
    record = markers(marker_dir, "orders")[0]
    assert record["body"] == "hello" and record["partition"] == "3" and record["seq"] == 0
    assert record["key"] == "7" and record["offset"] == "0" and record["group"] == "$Default"
    assert record["hub"] == "orders" and record["properties"] == {"kind": "order"}
    assert record["system"] == ["EnqueuedTimeUtc", "Offset", "PartitionKey", "SequenceNumber", "x-opt-enqueued-time",
                                "x-opt-offset", "x-opt-partition-key", "x-opt-sequence-number"]
    # Another consumer group of the same hub gets it too; its function's $return is an event of another hub.
    wait_until(lambda: [m["body"] for m in markers(marker_dir, "forwarded")] == ["fwd:hello"], what="the forward")
    host.wait_for("Executing 'Functions.one' (Reason='(null)'")


def test_an_output_list_is_one_event_each_and_wakes_the_listener(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)})
    assert host.client.post("/api/send/3").status_code == 202
    wait_until(lambda: len(markers(marker_dir, "outputs")) == 3, what="the three output events")
    assert [m["body"] for m in markers(marker_dir, "outputs")] == ["item-0", "item-1", "item-2"]
    assert [m["seq"] for m in markers(marker_dir, "outputs")] == [0, 1, 2]


def test_a_manual_invoke_builds_one_event_from_the_text(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", "--no-auth", env={"MARKER_DIR": str(marker_dir)})
    assert host.client.post("/admin/functions/one", json={"input": "manual"}).status_code == 202
    wait_until(lambda: any(m["body"] == "manual" for m in markers(marker_dir, "orders")), what="the manual run")
    assert cli(host, "tail", "orders").strip() == ""  # nothing was stored


def test_many_gets_ordered_batches_of_at_most_max_event_batch_size(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "send", "batches", "b", "--partition-id", "1", "--count", "25")
    wait_until(lambda: sum(len(m["seqs"]) for m in markers(marker_dir, "batches")) == 25,  # type: ignore[arg-type,misc]
               what="25 events in batches")
    batches = markers(marker_dir, "batches")
    assert all(len(m["seqs"]) <= 10 for m in batches)  # type: ignore[arg-type]
    assert [s for m in batches for s in m["seqs"]] == list(range(25))  # type: ignore[attr-defined]
    assert all(m["seq_array"] == m["seqs"] and m["partition"] == "1" for m in batches)
    assert batches[0]["arrays"] == ["EnqueuedTimeUtcArray", "OffsetArray", "PartitionKeyArray", "PropertiesArray",
                                    "SequenceNumberArray", "SystemPropertiesArray"]


def test_a_failed_event_is_checkpointed_and_not_redelivered(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)})
    cli(host, "send", "fails", "once", "--partition-id", "2")
    wait_until(lambda: checkpoints(host, "fails") == {"2": 0}, what="the checkpoint past the failed event")
    time.sleep(1.5)
    assert len(markers(marker_dir, "fails")) == 1


def test_order_within_each_partition_across_two_instances(start_host, marker_dir: Path) -> None:
    host = start_host("eventhubs", "--workers", "2", env={"MARKER_DIR": str(marker_dir)})
    # Two each, not merely two owners: at 3 + 1 the second instance still steals one, and a partition that moves
    # mid-test is rightly handled by both instances.
    wait_until(lambda: sorted(Counter(owners(host, "orders").values()).values()) == [2, 2],
               what="the partitions spread two and two over both instances")
    for key in range(8):
        cli(host, "send", "orders", f"k{key}", "--partition-key", f"key-{key}", "--count", "15")
    wait_until(lambda: len(markers(marker_dir, "orders")) >= 120, what="120 events")
    records = markers(marker_dir, "orders")
    pids = {str(m["pid"]) for m in records}
    assert len(pids) == 2  # both instances worked
    for partition, seqs in by_partition(records).items():
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), f"partition {partition}: {seqs}"
        assert len({m["pid"] for m in records if m["partition"] == partition}) == 1
    for key in range(8):  # each key's events arrive in the order they were sent
        mine = [m["seq"] for m in records if m["body"] == f"k{key}"]
        assert mine == sorted(mine) and len(mine) == 15


def test_an_instance_that_joins_takes_its_share_and_one_that_stops_hands_its_back(start_host, marker_dir: Path,
                                                                                 tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)}, data_dir=data)
    wait_until(lambda: len(set(owners(first, "orders").values())) == 1 and len(owners(first, "orders")) == 4,
               what="the first instance owning every partition")
    second = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)}, data_dir=data)  # another `overcast start`
    wait_until(lambda: sorted(list(owners(first, "orders").values()).count(o) for o in
                              set(owners(first, "orders").values())) == [2, 2], what="two partitions each")
    assert first.stop() == 0  # a graceful stop releases its partitions: the other takes them at the next round
    wait_until(lambda: len(set(owners(second, "orders").values())) == 1 and len(owners(second, "orders")) == 4,
               timeout=15, what="the remaining instance owning every partition")
    cli(second, "send", "orders", "after", "--partition-id", "0")
    wait_until(lambda: any(m["body"] == "after" for m in markers(marker_dir, "orders")), what="the event after")


def test_a_killed_instance_partitions_move_and_nothing_past_the_checkpoint_is_skipped(start_host,
                                                                                      marker_dir: Path) -> None:
    host = start_host("eventhubs", "--workers", "2", env={"MARKER_DIR": str(marker_dir), "SLOW_ORDERS": "0.05"})
    wait_until(lambda: len(set(owners(host, "orders").values())) == 2 and len(owners(host, "orders")) == 4,
               what="the partitions spread over both instances")
    victim_owner = sorted(set(owners(host, "orders").values()))[0]
    victim_pid = int(victim_owner.split(":")[1])
    for partition in range(4):
        cli(host, "send", "orders", f"p{partition}", "--partition-id", str(partition), "--count", "20")
    wait_until(lambda: any(m["pid"] == victim_pid for m in markers(marker_dir, "orders")), what="the victim working")
    os.kill(victim_pid, signal.SIGKILL)
    for partition in range(4):
        cli(host, "send", "orders", f"q{partition}", "--partition-id", str(partition), "--count", "5")
    # Every event is processed at least once: the survivor (or the restarted instance) resumes at the checkpoint.
    wait_until(lambda: all(sorted(set(seqs)) == list(range(25))
                           for seqs in by_partition(markers(marker_dir, "orders")).values())
               and len(by_partition(markers(marker_dir, "orders"))) == 4, timeout=60, what="every event processed")
    after = [m for m in markers(marker_dir, "orders") if m["pid"] != victim_pid]
    assert after, "the victim's partitions were taken over"
    wait_until(lambda: checkpoints(host, "orders") == {"0": 24, "1": 24, "2": 24, "3": 24}, what="final checkpoints")


def test_checkpoints_survive_a_restart(start_host, marker_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "kept"
    host = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)}, data_dir=data)
    cli(host, "send", "orders", "before", "--partition-id", "0", "--count", "3")
    wait_until(lambda: checkpoints(host, "orders").get("0") == 2, what="the first three checkpointed")
    assert host.stop() == 0
    cli(host, "send", "orders", "while-down", "--partition-id", "0", "--count", "2")
    pending = [json.loads(line) for line in cli(host, "tail", "orders", "-g", "$Default").splitlines()]
    assert [(e["partition"], e["sequenceNumber"], e["body"]) for e in pending] == [("0", 3, "while-down"),
                                                                                ("0", 4, "while-down")]
    assert "consumer group $Default\tlag=2" in cli(host, "list")
    second = start_host("eventhubs", env={"MARKER_DIR": str(marker_dir)}, data_dir=data)
    wait_until(lambda: len(markers(marker_dir, "orders")) == 5, what="the two sent while stopped")
    assert [m["body"] for m in markers(marker_dir, "orders")] == ["before"] * 3 + ["while-down"] * 2
    assert [m["seq"] for m in markers(marker_dir, "orders")] == [0, 1, 2, 3, 4]
    time.sleep(1)
    assert len(markers(marker_dir, "orders")) == 5  # nothing redelivered
    second.stop()


def test_a_bad_hub_config_stops_the_start_with_one_line(tmp_path: Path) -> None:
    from tests.e2e.hosting import APPS

    bad = tmp_path / "bad.json"
    bad.write_text('{"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "orders", "PartitionCount": 99}]}]}}')
    result = run_overcast("start", "--script-root", str(APPS / "eventhubs"), "--data-dir", str(tmp_path / "d"),
                          "--port", "0", env={"OVERCAST_EVENTHUBS_CONFIG": str(bad), "MARKER_DIR": str(tmp_path)})
    assert result.returncode == 3
    assert "PartitionCount must be 1 to 32, got 99" in result.stderr + result.stdout
