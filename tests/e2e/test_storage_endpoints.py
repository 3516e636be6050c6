"""``overcast start`` serves the Blob API of its embedded store: the SDK sees the bindings' blobs, a blob uploaded
with the SDK fires the blob trigger at once, a taken port is one line, and ``--workers 2`` share the endpoints."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.hosting import free_port
from tests.e2e.test_queues import markers, wait_until

pytestmark = pytest.mark.e2e
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")


def endpoint_env(port: int, marker_dir: Path) -> dict[str, str]:
    # A scan every minute: a blob that triggers within the test was announced by the endpoint, not found by a scan.
    return {"OVERCAST_STORAGE_ENDPOINTS": "on", "OVERCAST_BLOB_PORT": str(port), "MARKER_DIR": str(marker_dir),
            "OVERCAST_BLOB_SCAN_SECONDS": "60"}


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sdk_and_bindings_share_blobs_and_uploads_trigger_at_once(start_host, marker_dir: Path,
                                                                  workers: str) -> None:
    port = free_port()
    host = start_host("storage", "--workers", workers, env=endpoint_env(port, marker_dir))
    service = BlobServiceClient.from_connection_string(connection(port))
    # An output binding's blob, read with the SDK.
    assert host.client.put("/api/files/from-binding", content=b"written by a binding").status_code == 201
    blob = service.get_blob_client("uploads", "from-binding.txt")
    assert blob.download_blob().readall() == b"written by a binding"
    # A blob uploaded with the SDK: the blob trigger runs (long before the next scan) and its output is readable.
    service.get_blob_client("uploads", "from-sdk.txt").upload_blob(b"sdk words")
    wait_until(lambda: any(m["name"] == "uploads/from-sdk.txt" for m in markers(marker_dir, "uploads")),
               what="the blob trigger of the SDK's upload")
    wait_until(lambda: service.get_blob_client("processed", "from-sdk.out").exists(), what="the trigger's output")
    assert service.get_blob_client("processed", "from-sdk.out").download_blob().readall() == b"SDK WORDS"
    names = [m["name"] for m in markers(marker_dir, "uploads")]
    assert names.count("uploads/from-sdk.txt") == 1


def test_a_taken_port_is_one_line_and_the_start_goes_on(start_host, marker_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = start_host("storage", env=endpoint_env(port, marker_dir))
        line = host.wait_for("Storage endpoints:")
        assert f"127.0.0.1:{port} is already in use" in line and "OVERCAST_BLOB_PORT" in line
        assert host.client.put("/api/files/still", content=b"ok").status_code == 201


def test_the_endpoints_can_be_switched_off(start_host, marker_dir: Path) -> None:
    port = free_port()
    start_host("storage", env={**endpoint_env(port, marker_dir), "OVERCAST_STORAGE_ENDPOINTS": "off"})
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
