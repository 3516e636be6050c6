"""Blob trigger, blob input/output, table input/output and the blob CLI on the embedded store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.hosting import run_overcast
from tests.e2e.test_queues import cli, markers, wait_until

pytestmark = pytest.mark.e2e
FAST_SCAN = {"OVERCAST_BLOB_SCAN_SECONDS": "0.3"}


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def env_for(marker_dir: Path) -> dict[str, str]:
    return {"MARKER_DIR": str(marker_dir), **FAST_SCAN}


def put_blob(host, tmp_path: Path, path: str, content: bytes) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "upload.bin"
    source.write_bytes(content)
    cli(host, "blob", "put", path, str(source))


def test_blob_written_through_the_host_triggers_once_with_metadata(start_host, marker_dir: Path) -> None:
    host = start_host("storage", env=env_for(marker_dir))
    assert host.client.put("/api/files/report", content=b"hello blob").status_code == 201
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 1, what="the blob trigger")
    [record] = markers(marker_dir, "uploads")
    assert record["name"] == "uploads/report.txt"
    assert record["length"] == 10 and record["content"] == "hello blob"
    assert record["uri"] == "http://127.0.0.1:10000/devstoreaccount1/uploads/report.txt"
    assert str(record["etag"]).startswith('"0x')
    # Its outputs: a blob (read back through a blob input binding) and a table row (through a table input).
    wait_until(lambda: host.client.get("/api/processed/report").status_code == 200, what="the output blob")
    assert host.client.get("/api/processed/report").text == "HELLO BLOB"
    rows = host.client.get("/api/runs").json()
    assert [(r["PartitionKey"], r["Name"], r["Length"]) for r in rows] == [("runs", "uploads/report.txt", 10)]
    assert host.client.get("/api/files/report").content == b"hello blob"
    assert host.client.get("/api/files/absent").status_code == 404  # a missing input blob is None
    host.wait_for("New blob detected(LogsAndContainerScan): uploads/report.txt")
    # Other names in the container do not match the pattern and never trigger.
    host.client.put("/api/files/x", content=b"")  # uploads/x.txt matches; an empty blob is still a blob
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 2, what="the empty blob")


def test_blobs_from_the_cli_are_found_by_the_scan_once_per_version(start_host, marker_dir: Path,
                                                                   tmp_path: Path) -> None:
    host = start_host("storage", env=env_for(marker_dir))
    put_blob(host, tmp_path, "uploads/a.txt", b"one")
    put_blob(host, tmp_path, "uploads/ignored.csv", b"not matching")
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 1, what="the scanned blob")
    put_blob(host, tmp_path, "uploads/a.txt", b"two")  # a new version (new ETag) triggers again
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 2, what="the overwritten blob")
    cli(host, "blob", "delete", "uploads/a.txt")  # deletes never trigger
    put_blob(host, tmp_path, "uploads/b.txt", b"three")
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 3, what="the second blob")
    contents = [m["content"] for m in markers(marker_dir, "uploads")]
    assert contents == ["one", "two", "three"]


def test_receipts_survive_a_restart_and_downtime_is_caught_up(start_host, marker_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "shared-data"
    host = start_host("storage", env=env_for(marker_dir), data_dir=data_dir)
    put_blob(host, tmp_path, "uploads/before.txt", b"before")
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 1, what="the first blob")
    host.stop()
    put_blob(host, tmp_path, "uploads/while-down.txt", b"down")  # the host is not running
    host = start_host("storage", env=env_for(marker_dir), data_dir=data_dir)
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 2, what="the blob written while down")
    put_blob(host, tmp_path, "uploads/after.txt", b"after")
    wait_until(lambda: len(markers(marker_dir, "uploads")) == 3, what="the blob after the restart")
    assert sorted(m["content"] for m in markers(marker_dir, "uploads")) == ["after", "before", "down"]
    assert host.client.get("/api/files/before").content == b"before"  # the data survived the restart


def test_two_workers_trigger_each_blob_once(start_host, marker_dir: Path, tmp_path: Path) -> None:
    host = start_host("storage", "--workers", "2", env=env_for(marker_dir))
    for i in range(6):
        put_blob(host, tmp_path, f"uploads/w{i}.txt", f"w{i}".encode())
        host.client.put(f"/api/files/h{i}", content=f"h{i}".encode())
    wait_until(lambda: len(markers(marker_dir, "uploads")) >= 12, what="twelve blobs")
    time.sleep(2)  # let both instances scan again: nothing may fire twice
    names = sorted(m["name"] for m in markers(marker_dir, "uploads"))
    assert len(names) == len(set(names)) == 12


def test_a_failing_blob_goes_to_the_poison_queue(start_host, marker_dir: Path, tmp_path: Path) -> None:
    host = start_host("storage", env=env_for(marker_dir))
    put_blob(host, tmp_path, "broken/bad.bin", b"\x00\xffbinary")
    wait_until(lambda: len(markers(marker_dir, "poison")) == 1, what="the poison message")
    assert len(markers(marker_dir, "broken")) == 3  # poisonBlobThreshold in host.json
    [poison] = markers(marker_dir, "poison")
    assert poison["FunctionId"] == "Host.Functions.always_fails"
    assert (poison["ContainerName"], poison["BlobName"], poison["Type"]) == ("broken", "bad.bin", "BlobTrigger")
    host.wait_for("Moving message to queue 'webjobs-blobtrigger-poison'.")
    assert host.client.get("/admin/host/status").status_code in (200, 401)  # the host keeps serving


def test_table_input_and_output(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("storage", env=FAST_SCAN)
    people = [{"RowKey": "ann", "Age": 31}, {"RowKey": "bob", "Age": 25}, {"RowKey": "cid", "Age": 40},
              {"PartitionKey": "other", "RowKey": "dee", "Age": 50}]
    assert host.client.post("/api/people", content=json.dumps(people)).status_code == 201
    ann = host.client.get("/api/people/team/ann")
    assert ann.status_code == 200
    entity = ann.json()
    assert (entity["PartitionKey"], entity["RowKey"], entity["Age"]) == ("team", "ann", 31)
    assert entity["Timestamp"].endswith("Z")
    assert host.client.get("/api/people/team/zed").status_code == 404  # a missing entity is None
    # filter (with a {query} expression) and take
    found = host.client.get("/api/people", params={"minAge": "30"}).json()
    assert [p["RowKey"] for p in found] == ["dee", "ann"]  # (PartitionKey, RowKey) order, then take 2
    # The output only inserts (as Azure): an entity that exists fails the invocation.
    again = host.client.post("/api/people", content=json.dumps([{"RowKey": "ann", "Age": 1}]))
    assert again.status_code == 500
    assert host.client.get("/api/people/team/ann").json()["Age"] == 31
    host.wait_for("already has an entity")


def test_binding_expressions_from_a_queue_message(start_host, marker_dir: Path, tmp_path: Path) -> None:
    host = start_host("storage", env=env_for(marker_dir))
    put_blob(host, tmp_path, "templates/hello.txt", b"Hello, NAME!")
    cli(host, "queue", "send", "render", json.dumps({"id": "42", "template": "hello", "who": "Ada"}))
    wait_until(lambda: len(markers(marker_dir, "render")) == 1, what="the render function")
    wait_until(lambda: "42-" in cli(host, "blob", "list", "pages"), what="the page blob")
    [line] = cli(host, "blob", "list", "pages").splitlines()
    name = line.split("\t")[0]
    assert name.startswith("42-") and len(name) == len("42-") + 36 + len(".txt")  # {rand-guid}
    assert cli(host, "blob", "get", f"pages/{name}") == "Hello, Ada!"
    # A message without the property a path needs fails with the host's message.
    cli(host, "queue", "send", "render", json.dumps({"id": "43", "who": "Bob"}))
    host.wait_for("No value for named parameter 'template'.")


def test_manual_invoke_of_a_blob_trigger_reads_the_named_blob(start_host, marker_dir: Path,
                                                              tmp_path: Path) -> None:
    host = start_host("storage", "--no-auth", env={**env_for(marker_dir), "OVERCAST_BLOB_SCAN_SECONDS": "600"})
    put_blob(host, tmp_path, "uploads/manual.txt", b"by hand")
    response = host.client.post("/admin/functions/on_upload", json={"input": "uploads/manual.txt"})
    assert response.status_code == 202
    wait_until(lambda: any(m["content"] == "by hand" for m in markers(marker_dir, "uploads")), what="manual run")
    missing = host.client.post("/admin/functions/on_upload", json={"input": "uploads/none.txt"})
    assert missing.status_code == 400 and "uploads/none.txt" in missing.json()["error"]


def test_blob_cli_round_trip(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    source = tmp_path / "folder"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("a,b\n")
    (source / "sub" / "b.json").write_text("{}")
    put = run_overcast("blob", "put", "inbox/batch", str(source), *data)
    assert put.returncode == 0, put.stderr
    assert put.stdout.split() == ["inbox/batch/a.csv", "inbox/batch/sub/b.json"]
    listed = run_overcast("blob", "list", "inbox/batch/sub", "--json", *data)
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["name"], entry["length"], entry["contentType"]) == ("batch/sub/b.json", 2, "application/json")
    assert run_overcast("blob", "list", *data).stdout.split() == ["inbox"]
    assert run_overcast("blob", "get", "inbox/batch/a.csv", *data).stdout == "a,b\n"
    assert run_overcast("blob", "delete", "inbox/batch/a.csv", *data).returncode == 0
    gone = run_overcast("blob", "get", "inbox/batch/a.csv", *data)
    assert gone.returncode == 1 and "There is no blob 'inbox/batch/a.csv'" in gone.stderr
    bad = run_overcast("blob", "put", "nocontainer", str(source / "a.csv"), *data)
    assert bad.returncode == 1 and "container/blob name" in bad.stderr
