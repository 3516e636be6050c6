"""The Table service's wire pieces: metadata levels, entity JSON, key paths, filters on typed values, batches."""

from __future__ import annotations

import json

import pytest

from overcast.backends.table_service_store import StoredEntity, etag_of
from overcast.errors import StorageApiError
from overcast.storage_api.table.batch import SubResponse, parse_batch, render_batch
from overcast.storage_api.table.wire import (
    decode_token,
    encode_token,
    entity_filter,
    entity_json,
    entity_keys,
    level_of,
    read_entity,
    split_resource,
)

BASE = "http://127.0.0.1:10002/devstoreaccount1/"
ENTITY = StoredEntity("p", "r'1", {"Name": "Ada", "Big": "12", "Big@odata.type": "Edm.Int64"}, 1_700_000_000.25)


@pytest.mark.parametrize(("accept", "fmt", "level"), [
    ("application/json;odata=nometadata", None, "nometadata"),
    ("application/json;odata=fullmetadata", None, "fullmetadata"),
    ("application/json;odata=minimalmetadata", None, "minimalmetadata"),
    ("application/json", None, "minimalmetadata"),
    (None, None, "minimalmetadata"),
    ("application/json", "application/json;odata=nometadata", "nometadata"),
])
def test_metadata_level(accept: str | None, fmt: str | None, level: str) -> None:
    assert level_of(accept, fmt) == level


def test_minimal_metadata_keeps_the_types_and_the_etag() -> None:
    assert entity_json(ENTITY, "minimalmetadata", "People", BASE) == {
        "odata.etag": etag_of(ENTITY.timestamp), "PartitionKey": "p", "RowKey": "r'1",
        "Timestamp@odata.type": "Edm.DateTime", "Timestamp": "2023-11-14T22:13:20.2500000Z",
        "Name": "Ada", "Big": "12", "Big@odata.type": "Edm.Int64",
    }


def test_no_metadata_drops_annotations_and_full_metadata_adds_links() -> None:
    none = entity_json(ENTITY, "nometadata", "People", BASE)
    assert none == {"PartitionKey": "p", "RowKey": "r'1", "Timestamp": "2023-11-14T22:13:20.2500000Z",
                    "Name": "Ada", "Big": "12"}
    full = entity_json(ENTITY, "fullmetadata", "People", BASE)
    assert full["odata.type"] == "devstoreaccount1.People"
    assert full["odata.id"] == f"{BASE}People(PartitionKey='p',RowKey='r''1')"
    assert full["odata.editLink"] == "People(PartitionKey='p',RowKey='r''1')"


def test_select_returns_the_named_properties_and_null_for_missing_ones() -> None:
    assert entity_json(ENTITY, "minimalmetadata", "People", BASE, ["Big", "Nope"]) == {
        "odata.etag": etag_of(ENTITY.timestamp), "Big": "12", "Big@odata.type": "Edm.Int64", "Nope": None}


@pytest.mark.parametrize(("path", "expected"), [
    ("People", ("People", None)),
    ("People()", ("People", "")),
    ("People(PartitionKey='a',RowKey='b')", ("People", "PartitionKey='a',RowKey='b'")),
    ("Tables('People')", ("Tables", "'People'")),
])
def test_split_resource(path: str, expected: tuple[str, str | None]) -> None:
    assert split_resource(path) == expected


@pytest.mark.parametrize(("keys", "expected"), [
    ("PartitionKey='a',RowKey='b'", ("a", "b")),
    ("PartitionKey='it''s',RowKey=''", ("it's", "")),
    ("PartitionKey='a b',RowKey='c,d'", ("a b", "c,d")),
])
def test_entity_keys(keys: str, expected: tuple[str, str]) -> None:
    assert entity_keys(keys) == expected


def test_entity_keys_refuse_other_shapes() -> None:
    with pytest.raises(StorageApiError):
        entity_keys("RowKey='b',PartitionKey='a'")


@pytest.mark.parametrize(("body", "code"), [
    (b"[1]", "InvalidInput"),
    (b"not json", "InvalidInput"),
    (b'{"PartitionKey": 1, "RowKey": "r"}', "InvalidInput"),
    (b'{"PartitionKey": "p", "RowKey": "r", "x": {"nested": 1}}', "InvalidInput"),
    (b'{"PartitionKey": "p", "RowKey": "r", "x": "a", "x@odata.type": "Edm.Int64"}', "InvalidInput"),
    (b'{"PartitionKey": "p", "RowKey": "r", "x": "1", "x@odata.type": "Edm.Nope"}', "InvalidInput"),
    (json.dumps({"PartitionKey": "p", "RowKey": "r", **{f"p{n}": n for n in range(253)}}).encode(),
     "TooManyProperties"),
])
def test_bad_entities_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(StorageApiError) as refused:
        read_entity(body)
    assert refused.value.code == code


def test_read_entity_drops_system_properties_and_payload_annotations() -> None:
    body = {"odata.metadata": "x", "PartitionKey": "p", "RowKey": "r", "Timestamp": "2024-01-01T00:00:00Z",
            "Timestamp@odata.type": "Edm.DateTime", "n": "5", "n@odata.type": "Edm.Int64"}
    assert read_entity(json.dumps(body).encode()) == ("p", "r", {"n": "5", "n@odata.type": "Edm.Int64"})


@pytest.mark.parametrize(("text", "matches"), [
    ("Big gt 11L", True),
    ("Big gt 12L", False),
    ("Big eq 12", True),  # numbers compare across Int32 and Int64
    ("Big eq '12'", False),  # but not with strings
    ("Timestamp gt datetime'2023-11-14T00:00:00Z'", True),
    ("RowKey eq 'r''1' and PartitionKey eq 'p'", True),
])
def test_filters_compare_typed_values(text: str, matches: bool) -> None:
    accept = entity_filter(text)
    assert accept is not None and accept(ENTITY) is matches


@pytest.mark.parametrize("value", ["", "p", "ünï/code 'quoted'", "a" * 300])
def test_continuation_tokens_round_trip(value: str) -> None:
    token = encode_token(value)
    token.encode("latin-1")  # a header value
    assert decode_token(token, "NextPartitionKey") == value


BATCH = (
    b"--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n"
    b"--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"POST http://127.0.0.1:10002/devstoreaccount1/People HTTP/1.1\r\nContent-Type: application/json\r\n"
    b"Prefer: return-no-content\r\n\r\n{\"PartitionKey\": \"p\", \"RowKey\": \"1\"}\r\n"
    b"--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"DELETE http://127.0.0.1:10002/devstoreaccount1/People(PartitionKey='p',RowKey='2') HTTP/1.1\r\n"
    b"If-Match: *\r\n\r\n\r\n"
    b"--changeset_1--\r\n--batch_1--\r\n"
)


def test_a_batch_body_is_split_into_its_operations() -> None:
    subs = parse_batch(BATCH, "multipart/mixed; boundary=batch_1", "devstoreaccount1")
    assert [(s.method, s.path) for s in subs] == [("POST", "People"),
                                                   ("DELETE", "People(PartitionKey='p',RowKey='2')")]
    assert subs[0].headers["prefer"] == "return-no-content"
    assert json.loads(subs[0].body) == {"PartitionKey": "p", "RowKey": "1"}
    assert subs[1].headers["if-match"] == "*" and subs[1].body == b""


@pytest.mark.parametrize(("body", "content_type"), [
    (BATCH, "application/json"),
    (b"--batch_1--", "multipart/mixed; boundary=batch_1"),
    (BATCH.replace(b"devstoreaccount1/People", b"otheraccount/People"), "multipart/mixed; boundary=batch_1"),
])
def test_malformed_batches_are_refused(body: bytes, content_type: str) -> None:
    with pytest.raises(StorageApiError):
        parse_batch(body, content_type, "devstoreaccount1")


def test_a_batch_reply_holds_each_response() -> None:
    content_type, body = render_batch([SubResponse(204, {"ETag": "W/\"x\""}), SubResponse(201, {}, b"{}")])
    boundary = content_type.partition("boundary=")[2]
    text = body.decode()
    assert text.startswith(f"--{boundary}\r\n") and text.rstrip().endswith(f"--{boundary}--")
    assert "HTTP/1.1 204 No Content\r\nETag: W/\"x\"" in text and "HTTP/1.1 201 Created" in text
