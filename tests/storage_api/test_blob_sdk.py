"""The real azure-storage-blob SDK (sync) against Overcast and against Azurite: every test runs on both and asserts the
same results (statuses, error codes, properties and bodies the SDK reads)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import time

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    AccessPolicy,
    BlobBlock,
    BlobClient,
    BlobServiceClient,
    BlobType,
    ContainerClient,
    ContainerSasPermissions,
    ContentSettings,
    generate_container_sas,
)

from tests.storage_api.conftest import ACCOUNT, KEY, Target


@pytest.fixture
def service(target: Target) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(target.connection_string)


@pytest.fixture
def container(service: BlobServiceClient, name: str) -> ContainerClient:
    return service.create_container(name)


def code(exc: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int | None, str | None]:
    return exc.value.status_code, exc.value.error_code


def md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def test_containers(service: BlobServiceClient, name: str) -> None:
    created = service.create_container(name, metadata={"team": "blue"}, public_access="blob")
    with pytest.raises(ResourceExistsError) as exists:
        service.create_container(name)
    assert code(exists) == (409, "ContainerAlreadyExists")
    props = created.get_container_properties()
    assert props.metadata == {"team": "blue"} and props.public_access == "blob"
    assert props.lease.state == "available" and props.etag.startswith('"0x')
    created.set_container_metadata({"team": "red", "size": "2"})
    assert created.get_container_properties().metadata == {"team": "red", "size": "2"}
    for suffix in ("a", "b", "c"):
        service.create_container(f"{name}{suffix}")
    listed = [c.name for c in service.list_containers(name_starts_with=name)]
    assert listed == [name, f"{name}a", f"{name}b", f"{name}c"]
    pages = service.list_containers(name_starts_with=name, results_per_page=3).by_page()
    assert [[c.name for c in page] for page in pages] == [[name, f"{name}a", f"{name}b"], [f"{name}c"]]
    with_meta = next(iter(service.list_containers(name_starts_with=name, include_metadata=True)))
    assert with_meta.metadata == {"team": "red", "size": "2"}
    created.delete_container()
    with pytest.raises(ResourceNotFoundError) as gone:
        created.get_container_properties()
    assert code(gone) == (404, "ContainerNotFound")
    with pytest.raises(ResourceNotFoundError) as gone:
        created.delete_container()
    assert code(gone) == (404, "ContainerNotFound")
    assert not created.exists()


def test_stored_access_policy_grants_a_sas(container: ContainerClient) -> None:
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    policy = AccessPolicy(permission=ContainerSasPermissions(read=True, list=True), expiry=expiry)
    container.set_container_access_policy({"readers": policy}, public_access="container")
    got = container.get_container_access_policy()
    assert got["public_access"] == "container"
    assert [(i.id, i.access_policy.permission) for i in got["signed_identifiers"]] == [("readers", "rl")]
    container.upload_blob("x.txt", b"shared")
    sas = generate_container_sas(ACCOUNT, container.container_name, account_key=KEY, policy_id="readers")
    reader = ContainerClient.from_container_url(f"{container.url}?{sas}")
    assert [b.name for b in reader.list_blobs()] == ["x.txt"]
    assert reader.download_blob("x.txt").readall() == b"shared"
    with pytest.raises(HttpResponseError) as refused:
        reader.upload_blob("y.txt", b"no")
    assert code(refused) == (403, "AuthorizationPermissionMismatch")
    # Public read access: anonymous clients list and read.
    anonymous = ContainerClient.from_container_url(container.url)
    assert [b.name for b in anonymous.list_blobs()] == ["x.txt"]
    assert anonymous.download_blob("x.txt").readall() == b"shared"


def test_block_blob_upload_download_ranges_and_properties(container: ContainerClient) -> None:
    blob = container.get_blob_client("dir/report one.csv")
    settings = ContentSettings(content_type="text/csv", content_encoding="identity", content_language="en-GB",
                               content_disposition="attachment", cache_control="max-age=60")
    blob.upload_blob(b"a,b\n1,2\n", metadata={"source": "test"}, content_settings=settings)
    props = blob.get_blob_properties()
    assert props.size == 8 and props.blob_type == BlobType.BLOCKBLOB and props.metadata == {"source": "test"}
    cs = props.content_settings
    assert (cs.content_type, cs.content_encoding, cs.content_language, cs.content_disposition, cs.cache_control) == (
        "text/csv", "identity", "en-GB", "attachment", "max-age=60")
    assert bytes(cs.content_md5) == md5(b"a,b\n1,2\n")
    assert props.lease.status == "unlocked" and props.creation_time is not None
    assert blob.download_blob().readall() == b"a,b\n1,2\n"
    assert blob.download_blob(offset=4, length=3).readall() == b"1,2"
    assert blob.download_blob(offset=4).readall() == b"1,2\n"
    with pytest.raises(ResourceExistsError) as exists:
        blob.upload_blob(b"again")
    assert code(exists) == (409, "BlobAlreadyExists")
    blob.upload_blob(b"", overwrite=True)
    assert blob.download_blob().readall() == b"" and blob.get_blob_properties().size == 0
    blob.set_blob_metadata({"k": "v"})
    blob.set_http_headers(ContentSettings(content_type="application/json"))
    props = blob.get_blob_properties()
    assert props.metadata == {"k": "v"} and props.content_settings.content_type == "application/json"
    with pytest.raises(ResourceNotFoundError) as missing:
        container.get_blob_client("absent").download_blob()
    assert code(missing) == (404, "BlobNotFound")
    with pytest.raises(ResourceNotFoundError) as missing:
        container.get_blob_client("absent").get_blob_properties()
    assert missing.value.status_code == 404


def test_large_uploads_use_blocks(target: Target, name: str) -> None:
    service = BlobServiceClient.from_connection_string(target.connection_string, max_single_put_size=1 << 20,
                                                       max_block_size=1 << 20)
    container = service.create_container(name)
    data = os.urandom(3 * (1 << 20) + 17)
    blob = container.get_blob_client("big.bin")
    blob.upload_blob(data)
    assert blob.download_blob().readall() == data
    committed, uncommitted = blob.get_block_list("all")
    assert [b.size for b in committed] == [1 << 20, 1 << 20, 1 << 20, 17] and uncommitted == []
    assert blob.download_blob(offset=(1 << 20) - 2, length=4).readall() == data[(1 << 20) - 2:(1 << 20) + 2]


def test_staged_blocks_and_block_lists(container: ContainerClient) -> None:
    blob = container.get_blob_client("staged")
    ids = [base64.b64encode(f"block-{i:03d}".encode()).decode() for i in range(3)]
    for block_id, part in zip(ids, (b"aa", b"bbb", b"c"), strict=True):
        blob.stage_block(block_id, part)
    committed, uncommitted = blob.get_block_list("all")
    assert committed == [] and [(b.id, b.size) for b in uncommitted] == list(zip(ids, (2, 3, 1), strict=True))
    blob.commit_block_list([BlobBlock(ids[1]), BlobBlock(ids[0])], metadata={"m": "1"})
    assert blob.download_blob().readall() == b"bbbaa"
    committed, uncommitted = blob.get_block_list("all")
    assert [(b.id, b.size) for b in committed] == [(ids[1], 3), (ids[0], 2)] and uncommitted == []
    with pytest.raises(HttpResponseError) as invalid:
        blob.commit_block_list([BlobBlock(ids[2])])
    assert code(invalid) == (400, "InvalidBlockList")


def test_conditional_requests(container: ContainerClient) -> None:
    blob = container.get_blob_client("cond.txt")
    first = blob.upload_blob(b"v1")
    etag = first["etag"]
    with pytest.raises(ResourceModifiedError) as stale:
        blob.upload_blob(b"v2", overwrite=True, etag='"0x8D0000000000000"',
                         match_condition=MatchConditions.IfNotModified)
    assert code(stale) == (412, "ConditionNotMet")
    blob.upload_blob(b"v2", overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
    with pytest.raises(HttpResponseError) as same:
        blob.download_blob(etag=blob.get_blob_properties().etag, match_condition=MatchConditions.IfModified)
    assert code(same) == (304, "ConditionNotMet")
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    with pytest.raises(HttpResponseError) as unchanged:
        blob.get_blob_properties(if_modified_since=future)
    assert code(unchanged) == (304, "ConditionNotMet")
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    with pytest.raises(ResourceModifiedError) as changed:
        blob.delete_blob(if_unmodified_since=past)
    assert code(changed) == (412, "ConditionNotMet")
    assert blob.download_blob(if_modified_since=past).readall() == b"v2"
    blob.delete_blob(if_unmodified_since=future)
    with pytest.raises(ResourceNotFoundError) as gone:
        blob.delete_blob()
    assert code(gone) == (404, "BlobNotFound")


def test_listing_with_prefix_delimiter_paging_and_metadata(container: ContainerClient) -> None:
    for blob_name in ("a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d/4.txt"):
        container.upload_blob(blob_name, blob_name.encode(), metadata={"n": blob_name.replace("/", "_")[:-4]})
    top = [(item.name, getattr(item, "prefix", None) is not None) for item in container.walk_blobs()]
    assert [n for n, _ in top] == ["a/", "d/", "c.txt"]  # the SDK yields the prefixes first
    assert [b.name for b in container.walk_blobs(name_starts_with="a/")] == ["a/b/", "a/1.txt", "a/2.txt"]
    pages = container.list_blobs(results_per_page=2).by_page()
    assert [[b.name for b in page] for page in pages] == [["a/1.txt", "a/2.txt"], ["a/b/3.txt", "c.txt"],
                                                          ["d/4.txt"]]
    found = {b.name: b for b in container.list_blobs(name_starts_with="a/", include=["metadata"])}
    assert found["a/b/3.txt"].metadata == {"n": "a_b_3"} and found["a/1.txt"].size == 7
    assert [b.name for b in container.list_blobs(name_starts_with="zz")] == []


def test_copy_within_the_account(container: ContainerClient) -> None:
    source = container.get_blob_client("source.txt")
    source.upload_blob(b"copy me", metadata={"from": "source"},
                       content_settings=ContentSettings(content_type="text/plain"))
    target = container.get_blob_client("target.txt")
    started = target.start_copy_from_url(source.url)
    assert started["copy_status"] == "success"
    props = target.get_blob_properties()
    assert props.copy.status == "success" and props.copy.id == started["copy_id"]
    assert props.metadata == {"from": "source"} and props.content_settings.content_type == "text/plain"
    assert target.download_blob().readall() == b"copy me"
    missing = container.get_blob_client("nothing")
    with pytest.raises(ResourceNotFoundError) as absent:
        container.get_blob_client("t2").start_copy_from_url(missing.url)
    assert absent.value.status_code == 404


def test_blob_leases(container: ContainerClient) -> None:
    blob = container.get_blob_client("leased.txt")
    blob.upload_blob(b"1")
    lease = blob.acquire_lease(lease_duration=15)
    props = blob.get_blob_properties()
    assert (props.lease.status, props.lease.state, props.lease.duration) == ("locked", "leased", "fixed")
    with pytest.raises(HttpResponseError) as missing:
        blob.upload_blob(b"2", overwrite=True)
    assert code(missing) == (412, "LeaseIdMissing")
    blob.upload_blob(b"2", overwrite=True, lease=lease)
    with pytest.raises(HttpResponseError) as present:
        blob.acquire_lease(lease_duration=-1)
    assert code(present) == (409, "LeaseAlreadyPresent")
    lease.renew()
    lease.change("5f5e5d5c-0000-4000-8000-000000000001")
    assert blob.get_blob_properties().lease.state == "leased"
    assert lease.break_lease(lease_break_period=0) == 0
    assert blob.get_blob_properties().lease.state == "broken"
    blob.upload_blob(b"3", overwrite=True)
    second = blob.acquire_lease()
    with pytest.raises(HttpResponseError) as wrong:
        blob.delete_blob(lease="00000000-0000-4000-8000-000000000000")
    assert code(wrong) == (412, "LeaseIdMismatchWithBlobOperation")
    second.release()
    blob.delete_blob()


def test_container_leases(container: ContainerClient) -> None:
    lease = container.acquire_lease(lease_duration=-1)
    props = container.get_container_properties()
    assert (props.lease.state, props.lease.duration) == ("leased", "infinite")
    with pytest.raises(HttpResponseError) as missing:
        container.delete_container()
    assert code(missing) == (412, "LeaseIdMissing")
    broken = lease.break_lease(lease_break_period=10)
    assert 0 < broken <= 10 and container.get_container_properties().lease.state == "breaking"
    lease.release()
    container.delete_container()


def test_append_blobs(container: ContainerClient) -> None:
    blob = container.get_blob_client("log.txt")
    blob.create_append_blob(metadata={"kind": "log"})
    for line in (b"one\n", b"two\n"):
        result = blob.append_block(line)
    assert result["blob_committed_block_count"] == 2 and result["blob_append_offset"] == "4"
    props = blob.get_blob_properties()
    assert props.blob_type == BlobType.APPENDBLOB and props.size == 8 and props.append_blob_committed_block_count == 2
    assert blob.download_blob().readall() == b"one\ntwo\n"
    with pytest.raises(HttpResponseError) as position:
        blob.append_block(b"x", appendpos_condition=3)
    assert code(position) == (412, "AppendPositionConditionNotMet")
    block = container.get_blob_client("block.txt")
    block.upload_blob(b"x")
    with pytest.raises(HttpResponseError) as wrong_type:
        block.append_block(b"y")
    assert code(wrong_type) == (409, "InvalidBlobType")


def test_missing_container(service: BlobServiceClient, name: str) -> None:
    blob = service.get_blob_client(name, "x")
    with pytest.raises(ResourceNotFoundError) as missing:
        blob.upload_blob(b"x")
    assert code(missing) == (404, "ContainerNotFound")
    with pytest.raises(ResourceNotFoundError) as missing:
        service.get_container_client(name).list_blobs().next()
    assert code(missing) == (404, "ContainerNotFound")


def test_account_information_and_service_properties(service: BlobServiceClient) -> None:
    info = service.get_account_information()
    assert info["account_kind"] == "StorageV2"
    assert service.get_service_properties()["hour_metrics"].enabled is False


def test_a_blob_client_made_from_a_url_with_the_account_key(target: Target, container: ContainerClient) -> None:
    client = BlobClient.from_blob_url(f"{target.blob}/{container.container_name}/k.txt",
                                      credential={"account_name": ACCOUNT, "account_key": KEY})
    client.upload_blob(b"keyed")
    time.sleep(0)  # nothing to wait for: a write is visible at once
    assert container.download_blob("k.txt").readall() == b"keyed"
