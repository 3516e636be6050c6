"""SDK reads of blobs written by output bindings, SDK-type bindings (BlobClient, ContainerClient,
StorageStreamDownloader) on inputs and a blob trigger, and the official Durable sample ``fan_in_fan_out`` (v2),
unmodified, which uploads with the Storage SDK through the Blob endpoint: on the embedded store, and on PostgreSQL
(``AzureWebJobsStorage=postgresql://…``; app code reads that setting as the endpoints' connection string)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.hosting import free_port
from tests.e2e.pg_cluster import private_database, query, server
from tests.e2e.test_queues import markers, wait_until

pytestmark = pytest.mark.e2e
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The app's store: no setting (the embedded store), or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield {}
        return
    with private_database(server()) as url:
        yield {"AzureWebJobsStorage": url, "AzureFunctionsWebHost__hostid": "blob-sdk"}


def endpoints(tmp_path: Path, store: dict[str, str]) -> tuple[dict[str, str], BlobServiceClient]:
    port = free_port()
    env = {"OVERCAST_STORAGE_ENDPOINTS": "on", "OVERCAST_BLOB_PORT": str(port), "OVERCAST_BLOB_SCAN_SECONDS": "60",
           "MARKER_DIR": str(tmp_path), **store}
    service = BlobServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    return env, service


def assert_stored_in(store: dict[str, str], container: str, names: set[str]) -> None:
    """On PostgreSQL, the blobs the SDK sees are rows of that database (not of an embedded store beside it)."""
    if "AzureWebJobsStorage" in store:
        rows = query(store["AzureWebJobsStorage"], "SELECT name FROM blobs WHERE container = %s", container)
        assert {row[0] for row in rows} >= names, rows


def test_output_bindings_sdk_reads_and_sdk_type_bindings(start_host, tmp_path: Path, store: dict[str, str]) -> None:
    env, service = endpoints(tmp_path, store)
    host = start_host("blob_sdk", env=env)
    assert host.client.put("/api/write/report", content=b"from a binding").status_code == 201
    # The app's own SDK code, with the AzureWebJobsStorage Overcast set for it (no local.settings.json).
    try:
        read = host.client.get("/api/sdkread/report", timeout=20)
    except httpx.HTTPError as exc:
        raise AssertionError(f"{exc}:\n{host.output}") from exc
    assert read.content == b"from a binding", host.output
    got = host.client.get("/api/client/report")
    assert got.status_code == 200, host.output
    assert got.json() == {"name": "report.txt", "size": 14, "content": "from a binding"}
    assert host.client.get("/api/stream/report").content == b"from a binding"
    assert host.client.get("/api/container").json() == ["report.txt"]
    # A blob uploaded with the SDK fires the trigger, whose BlobClient reads it.
    service.create_container("sdkin")
    service.get_blob_client("sdkin", "doc.txt").upload_blob(b"uploaded")
    wait_until(lambda: markers(tmp_path, "sdkin"), what="the BlobClient-typed blob trigger")
    assert markers(tmp_path, "sdkin") == [{"name": "doc.txt", "container": "sdkin", "content": "uploaded"}]
    assert_stored_in(store, "sdkin", {"doc.txt"})


def test_the_durable_fan_in_fan_out_sample_runs_to_completion(start_host, tmp_path: Path,
                                                              store: dict[str, str]) -> None:
    env, service = endpoints(tmp_path, store)
    tree = tmp_path / "site"
    files = {"E2_Copy/__init__.py": b"print('copy')\n", "E2_Copy/function.json": b"{}\n",
             "E2_List/function.json": b'{"bindings": []}\n', "other/__init__.py": b"skipped\n"}
    for relative, content in files.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_bytes(content)
    host = start_host("fan_in_fan_out", env=env)
    started = host.client.post("/api/orchestrators/E2_BackupSiteContent", content=json.dumps(str(tree)))
    assert started.status_code == 202, started.text
    status_url = started.json()["statusQueryGetUri"]

    def finished() -> bool:
        return host.client.get(status_url).json()["runtimeStatus"] in ("Completed", "Failed")

    wait_until(finished, what="the orchestration", timeout=60)
    status = host.client.get(status_url).json()
    assert status["runtimeStatus"] == "Completed", (status, host.output)
    expected = sum(len(v) for k, v in files.items() if k.startswith("E2_"))
    assert status["output"] == expected
    uploaded = {b.name: service.get_blob_client("backups", b.name).download_blob().readall()
                for b in service.get_container_client("backups").list_blobs()}
    assert uploaded == {"E2_Copy___init__.py": b"print('copy')\n", "E2_Copy_function.json": b"{}\n",
                        "E2_List_function.json": b'{"bindings": []}\n'}
    assert_stored_in(store, "backups", set(uploaded))
