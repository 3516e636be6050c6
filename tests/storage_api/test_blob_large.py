"""Blobs of tens of MiB through the real azure-storage-blob SDK: uploaded in one Put Blob and in staged blocks,
downloaded whole and by ranges, against Overcast (SQLite; PostgreSQL when configured) and Azurite alike. The
bodies stream through the endpoint and the store in chunks; the bytes must come back exactly."""

from __future__ import annotations

import hashlib
import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

from tests.storage_api.conftest import Target

MIB = 1024 * 1024
SIZE = 24 * MIB + 12_345  # several stored chunks and SDK blocks, the last ones short


def payload(size: int, seed: int) -> bytes:
    """Pseudo-random bytes (a range read at the wrong offset cannot match)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 128  # 4 KiB per step
        counter += 1
    return bytes(out[:size])


@pytest.fixture(params=["overcast", "overcast_postgres", "azurite"])
def large_target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue(f"{request.param}_target")  # type: ignore[no-any-return]


@pytest.fixture
def container(large_target: Target, name: str) -> Iterator[ContainerClient]:
    service = BlobServiceClient.from_connection_string(large_target.connection_string)
    client = service.create_container(name)
    yield client
    client.delete_container()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("upload", ["single put", "staged blocks"])
def test_a_large_blob_round_trips_whole_and_by_ranges(large_target: Target, container: ContainerClient,
                                                     upload: str) -> None:
    data = payload(SIZE, seed=len(upload))
    if upload == "single put":
        blob = container.get_blob_client("large.bin")
        blob.upload_blob(data)  # under the SDK's 64 MiB single-put size: one Put Blob
    else:
        blob = BlobClient.from_connection_string(large_target.connection_string, container.container_name,
                                                 "large.bin", max_single_put_size=4 * MIB, max_block_size=4 * MIB)
        blob.upload_blob(data, max_concurrency=2)
        assert len(blob.get_block_list("committed")[0]) == (SIZE + 4 * MIB - 1) // (4 * MIB)
    props = blob.get_blob_properties()
    assert props.size == SIZE
    if upload == "single put":
        assert props.content_settings.content_md5 == hashlib.md5(data).digest()
    assert sha(blob.download_blob(max_concurrency=2).readall()) == sha(data)
    for offset, length in [(0, 1), (SIZE - 1, 1), (MIB - 7, 14), (3 * MIB + 5, 9 * MIB), (SIZE - 100, 100)]:
        assert sha(blob.download_blob(offset=offset, length=length).readall()) == sha(data[offset:offset + length])
    streamed = hashlib.sha256()
    for chunk in blob.download_blob().chunks():
        streamed.update(chunk)
    assert streamed.hexdigest() == sha(data)


def test_an_upload_with_a_wrong_md5_keeps_the_old_blob(large_target: Target, container: ContainerClient) -> None:
    blob = container.get_blob_client("checked.bin")
    old = payload(3 * MIB, seed=1)
    blob.upload_blob(old)
    new = payload(3 * MIB, seed=2)
    with pytest.raises(HttpResponseError) as refused:
        blob.upload_blob(new, overwrite=True, headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    # Azure answers Md5Mismatch; Azurite (3.35) InvalidOperation.
    expected = "InvalidOperation" if large_target.name == "azurite" else "Md5Mismatch"
    assert (refused.value.status_code, refused.value.error_code) == (400, expected)
    assert sha(blob.download_blob().readall()) == sha(old)



def test_downloads_abandoned_mid_way_release_what_they_hold(large_target: Target, container: ContainerClient) -> None:
    """Clients that read a little of a large public blob and hang up, more of them than the PostgreSQL store's
    stream connections: the server still serves the next download whole."""
    data = payload(8 * MIB, seed=3)
    blob = container.get_blob_client("public.bin")
    blob.upload_blob(data)
    container.set_container_access_policy({}, public_access="blob")
    url = urlsplit(blob.url)
    for _ in range(20):
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        conn.request("GET", url.path, headers={"x-ms-version": "2021-08-06"})
        response = conn.getresponse()
        assert response.status == 200
        assert len(response.read(256 * 1024)) == 256 * 1024
        conn.close()  # mid-download
    assert sha(blob.download_blob().readall()) == sha(data)
