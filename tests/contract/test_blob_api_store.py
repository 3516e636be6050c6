"""The BlobApiStore contract (containers, properties, conditions, blocks, leases, append blobs, copies), run against
every backend of ``BACKEND_CASES`` with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.backends.blob_api_store import (
    BlobApiStore,
    BlobInfo,
    BlobWrite,
    Conditions,
    ContentHeaders,
    SignedIdentifier,
)
from overcast.errors import BlobApiRefusal
from tests.contract.conftest import Storage
from tests.contract.store_helpers import FakeClock

NONE = Conditions()


@pytest.fixture
def api(storage: Storage) -> Iterator[BlobApiStore]:
    store = storage.backend().open_blob_api()
    yield store
    store.close()


def refused(code: str) -> pytest.RaisesContext[BlobApiRefusal]:
    return pytest.raises(BlobApiRefusal, match=f"^{code}")


def read(api: BlobApiStore, container: str, name: str, cond: Conditions = NONE) -> tuple[bytes, BlobInfo]:
    reader, info = api.read_blob(container, name, cond)
    return reader.read(), info


def test_containers_are_created_once_listed_in_pages_and_deleted_with_their_blobs(api: BlobApiStore) -> None:
    made = api.create_container("alpha", {"team": "x"}, "")
    assert made.metadata == {"team": "x"} and made.etag.startswith('"0x') and made.lease.state == "available"
    with refused("ContainerAlreadyExists"):
        api.create_container("alpha", {}, "")
    for name in ("beta", "gamma", "delta"):
        api.create_container(name, {}, "blob")
    page, marker = api.list_containers("", "", 2)
    assert [c.name for c in page] == ["alpha", "beta"] and marker == "delta"
    page, marker = api.list_containers("", marker, 2)
    assert [c.name for c in page] == ["delta", "gamma"] and marker == ""
    assert [c.name for c in api.list_containers("g", "", 10)[0]] == ["gamma"]
    api.put_blob("alpha", "a.txt", [b"x"], BlobWrite(), NONE)
    api.delete_container("alpha", NONE)
    assert api.container_info("alpha") is None
    with refused("ContainerNotFound"):
        api.blob_info("alpha", "a.txt")
    api.create_container("alpha", {}, "")
    assert api.list_blob_infos("alpha", "", "", 10, "") == ([], "")


def test_container_metadata_and_acl_change_its_etag(api: BlobApiStore, clock: FakeClock) -> None:
    first = api.create_container("box", {}, "")
    clock.advance(5)
    second = api.set_container_metadata("box", {"k": "v"}, NONE)
    assert second.etag != first.etag and second.last_modified == first.last_modified + 5
    policy = SignedIdentifier("read-only", "", "2030-01-01T00:00:00Z", "r")
    third = api.set_container_acl("box", "container", [policy], Conditions(if_match=second.etag))
    info = api.container_info("box")
    assert info is not None and info.public_access == "container" and info.identifiers == (policy,)
    assert info.metadata == {"k": "v"} and info.etag == third.etag
    with refused("ConditionNotMet"):
        api.set_container_metadata("box", {}, Conditions(if_match=first.etag))


def test_a_blob_written_by_a_binding_reads_as_a_plain_block_blob(api: BlobApiStore) -> None:
    props = api.put("made-by-binding", "in/x.json", b"{}", content_type="application/json", metadata={"a": "1"})
    info = api.blob_info("made-by-binding", "in/x.json")
    assert info.blob_type == "BlockBlob" and info.props.etag == props.etag
    assert info.headers.content_type == "application/json" and info.props.metadata == {"a": "1"}
    assert [c.name for c in api.list_containers("made", "", 5)[0]] == ["made-by-binding"]


def test_put_blob_keeps_content_headers_until_a_binding_overwrites(api: BlobApiStore) -> None:
    api.create_container("cnt", {}, "")
    headers = ContentHeaders("text/plain", "gzip", "en", "attachment", "no-cache", "rL0Y20zC+Fzt72VPzMSk2A==")
    api.put_blob("cnt", "b", [b"foo"], BlobWrite(headers, {"m": "1"}), NONE)
    data, info = read(api, "cnt", "b")
    assert data == b"foo" and info.headers == headers and info.props.metadata == {"m": "1"}
    api.put("cnt", "b", b"bar")  # a binding's write: the API's extra properties belonged to the old content
    assert api.blob_info("cnt", "b").headers == ContentHeaders()


def test_conditions(api: BlobApiStore, clock: FakeClock) -> None:
    api.create_container("cnt", {}, "")
    first = api.put_blob("cnt", "b", [b"1"], BlobWrite(), NONE)
    etag, when = first.props.etag, first.props.last_modified.timestamp()
    with refused("BlobAlreadyExists"):
        api.put_blob("cnt", "b", [b"2"], BlobWrite(), Conditions(if_none_match="*"))
    with refused("ConditionNotMet"):
        api.put_blob("cnt", "b", [b"2"], BlobWrite(), Conditions(if_match='"0x8D0000000000000"'))
    with refused("ConditionNotMet"):
        api.put_blob("cnt", "new", [b"2"], BlobWrite(), Conditions(if_match="*"))
    with refused("NotModified"):
        read(api, "cnt", "b", Conditions(if_none_match=etag))
    with refused("NotModified"):
        read(api, "cnt", "b", Conditions(if_modified_since=when))
    with refused("ConditionNotMet"):
        read(api, "cnt", "b", Conditions(if_match='"other"'))
    assert read(api, "cnt", "b", Conditions(if_modified_since=when - 1))[0] == b"1"
    clock.advance(10)
    second = api.put_blob("cnt", "b", [b"2"], BlobWrite(), Conditions(if_match=etag, if_unmodified_since=when))
    with refused("ConditionNotMet"):
        api.delete_blob("cnt", "b", Conditions(if_unmodified_since=when))
    api.delete_blob("cnt", "b", Conditions(if_match=second.props.etag))
    with refused("BlobNotFound"):
        api.delete_blob("cnt", "b", NONE)


def test_blocks_are_staged_committed_and_recombined(api: BlobApiStore) -> None:
    api.create_container("cnt", {}, "")
    for block_id, data in (("QQ==", b"aa"), ("Qg==", b"bbb"), ("Qw==", b"c")):
        api.stage_block("cnt", "big", block_id, [data], NONE)
    committed, uncommitted, info = api.block_list("cnt", "big", "all", None)
    assert committed == [] and [(b.block_id, b.size) for b in uncommitted] == [("QQ==", 2), ("Qg==", 3), ("Qw==", 1)]
    assert info is None
    api.commit_blocks("cnt", "big", [("Latest", "Qg=="), ("Uncommitted", "QQ==")], BlobWrite(), NONE)
    assert read(api, "cnt", "big")[0] == b"bbbaa"
    committed, uncommitted, _ = api.block_list("cnt", "big", "all", None)
    assert [(b.block_id, b.size) for b in committed] == [("Qg==", 3), ("QQ==", 2)] and uncommitted == []
    api.stage_block("cnt", "big", "RA==", [b"dd"], NONE)
    api.commit_blocks("cnt", "big", [("Committed", "QQ=="), ("Latest", "RA=="), ("Committed", "Qg==")], BlobWrite(),
                      NONE)
    assert read(api, "cnt", "big")[0] == b"aaddbbb"
    with refused("InvalidBlockList"):
        api.commit_blocks("cnt", "big", [("Uncommitted", "QQ==")], BlobWrite(), NONE)
    with refused("BlobNotFound"):
        api.block_list("cnt", "nothing", "all", None)


def test_blob_leases(api: BlobApiStore, clock: FakeClock) -> None:
    api.create_container("cnt", {}, "")
    api.put_blob("cnt", "b", [b"1"], BlobWrite(), NONE)
    lease = api.blob_lease("cnt", "b", "acquire", NONE, None, 15, None)
    assert api.blob_info("cnt", "b").lease.state == "leased"
    with refused("LeaseIdMissing"):
        api.put_blob("cnt", "b", [b"2"], BlobWrite(), NONE)
    with refused("LeaseIdMismatchWithBlobOperation"):
        api.delete_blob("cnt", "b", Conditions(lease_id="00000000-0000-0000-0000-000000000000"))
    with refused("LeaseAlreadyPresent"):
        api.blob_lease("cnt", "b", "acquire", NONE, None, -1, None)
    api.put_blob("cnt", "b", [b"2"], BlobWrite(), Conditions(lease_id=lease.lease_id))
    assert api.blob_info("cnt", "b").lease.lease_id == lease.lease_id  # an overwrite keeps the lease
    clock.advance(16)
    assert api.blob_info("cnt", "b").lease.state == "expired"
    api.put_blob("cnt", "b", [b"3"], BlobWrite(), NONE)
    renewed = api.blob_lease("cnt", "b", "renew", Conditions(lease_id=lease.lease_id), None, 0, None)
    assert renewed.lease_id == lease.lease_id and api.blob_info("cnt", "b").lease.state == "leased"
    broken = api.blob_lease("cnt", "b", "break", NONE, None, 0, 10)
    assert broken.lease_time == 10 and api.blob_info("cnt", "b").lease.state == "breaking"
    clock.advance(11)
    assert api.blob_info("cnt", "b").lease.state == "broken"
    api.blob_lease("cnt", "b", "acquire", NONE, "11111111-1111-1111-1111-111111111111", -1, None)
    api.blob_lease("cnt", "b", "change", Conditions(lease_id="11111111-1111-1111-1111-111111111111"),
                   "22222222-2222-2222-2222-222222222222", 0, None)
    with refused("LeaseIdMismatchWithLeaseOperation"):
        api.blob_lease("cnt", "b", "release", Conditions(lease_id="11111111-1111-1111-1111-111111111111"), None, 0,
                       None)
    api.blob_lease("cnt", "b", "release", Conditions(lease_id="22222222-2222-2222-2222-222222222222"), None, 0, None)
    assert api.blob_info("cnt", "b").lease.state == "available"
    api.delete_blob("cnt", "b", NONE)


def test_container_leases_guard_its_deletion(api: BlobApiStore) -> None:
    api.create_container("cnt", {}, "")
    lease = api.container_lease("cnt", "acquire", NONE, None, -1, None)
    with refused("LeaseIdMissing"):
        api.delete_container("cnt", NONE)
    info = api.container_info("cnt")
    assert info is not None and (info.lease.state, info.lease.duration) == ("leased", "infinite")
    api.delete_container("cnt", Conditions(lease_id=lease.lease_id))


def test_append_blobs(api: BlobApiStore) -> None:
    api.create_container("cnt", {}, "")
    api.put_blob("cnt", "log", [b""], BlobWrite(blob_type="AppendBlob"), NONE)
    for line in (b"one\n", b"two\n"):
        api.append_block("cnt", "log", [line], NONE, None, None)
    info, offset = api.append_block("cnt", "log", [b"three\n"], NONE, 8, None)
    assert offset == 8
    assert info.committed_blocks == 3 and info.blob_type == "AppendBlob"
    assert read(api, "cnt", "log")[0] == b"one\ntwo\nthree\n"
    with refused("AppendPositionConditionNotMet"):
        api.append_block("cnt", "log", [b"x"], NONE, 3, None)
    with refused("MaxBlobSizeConditionNotMet"):
        api.append_block("cnt", "log", [b"x"], NONE, None, 14)
    api.put_blob("cnt", "block", [b"x"], BlobWrite(), NONE)
    with refused("InvalidBlobType"):
        api.append_block("cnt", "block", [b"x"], NONE, None, None)


def test_copy_within_the_account(api: BlobApiStore) -> None:
    api.create_container("src", {}, "")
    api.create_container("dst", {}, "")
    api.put_blob("src", "a", [b"payload"], BlobWrite(ContentHeaders("text/csv", cache_control="max-age=5"),
                                                   {"origin": "src"}), NONE)
    copied = api.copy_blob(("src", "a"), ("dst", "b"), None, "http://x/src/a", NONE, NONE)
    assert copied.copy is not None and copied.copy.status == "success" and copied.copy.progress == "7/7"
    data, info = read(api, "dst", "b")
    assert data == b"payload" and info.headers.content_type == "text/csv" and info.props.metadata == {"origin": "src"}
    assert info.headers.cache_control == "max-age=5"
    renamed = api.copy_blob(("src", "a"), ("dst", "c"), {"new": "1"}, "u", NONE, NONE)
    assert renamed.props.metadata == {"new": "1"}
    with refused("BlobNotFound"):
        api.copy_blob(("src", "missing"), ("dst", "d"), None, "u", NONE, NONE)


def test_listing_with_a_delimiter_and_pages(api: BlobApiStore) -> None:
    api.create_container("cnt", {}, "")
    for name in ("a/1", "a/2", "b", "c/x/1", "c/y", "d"):
        api.put_blob("cnt", name, [name.encode()], BlobWrite(), NONE)

    def names(entries: list[BlobInfo | str]) -> list[str]:
        return [e if isinstance(e, str) else e.props.name for e in entries]

    entries, marker = api.list_blob_infos("cnt", "", "", 3, "/")
    assert names(entries) == ["a/", "b", "c/"] and marker == "d"
    entries, marker = api.list_blob_infos("cnt", "", marker, 3, "/")
    assert names(entries) == ["d"] and marker == ""
    entries, marker = api.list_blob_infos("cnt", "c/", "", 10, "/")
    assert names(entries) == ["c/x/", "c/y"]
    entries, marker = api.list_blob_infos("cnt", "", "", 2, "")
    assert names(entries) == ["a/1", "a/2"] and marker == "b"
