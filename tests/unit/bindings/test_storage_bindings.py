"""The pure parts of the blob and table bindings and of blob receipts, table-driven."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.meta import Datum

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.memory import MemoryBlobStore, MemoryQueueStore, MemoryStateStore, MemoryTableStore
from overcast.bindings import blob as blob_binding
from overcast.bindings import table as table_binding
from overcast.bindings.expressions import BlobPathPattern
from overcast.bindings.io import http_binding_data
from overcast.errors import OvercastError
from overcast.triggers import blob_receipts
from overcast.triggers.blob import blob_queue_options
from overcast.triggers.blob_receipts import BlobReceipts, BlobWatch, Notice, trigger_queue_name
from overcast.triggers.queue_options import QueueOptions


def binding(data_type: str | None = None, **raw: Any) -> BindingSpec:
    return BindingSpec("b", "blob", "in", data_type, {"name": "b", "type": "blob", **raw})


@pytest.mark.parametrize(
    ("pytype", "data_type", "text"),
    [(str, None, True), (bytes, None, False), (func.InputStream, None, False), (None, "string", True),
     (None, "STRING", True), (None, "binary", False), (None, None, False), (bytes, "string", False)],
)
def test_blob_content_type_follows_the_parameter(pytype: Any, data_type: str | None, text: bool) -> None:
    assert blob_binding.wants_text(pytype, binding(data_type)) is text
    datum = blob_binding.content_datum("é".encode(), text)
    assert (datum.type, datum.value) == (("string", "é") if text else ("bytes", "é".encode()))


@pytest.mark.parametrize(
    ("path", "expected"),
    [("c/a.txt", ("c", "a.txt")), ("c/dir/a/b", ("c", "dir/a/b")), ("c/", None), ("/a", None), ("c", None)],
)
def test_split_path(path: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(OvercastError, match="container/blob name"):
            blob_binding.split_path(path, "out")
    else:
        assert blob_binding.split_path(path, "out") == expected


@pytest.mark.parametrize(
    ("datum", "content"),
    [(Datum("héllo", "string"), "héllo".encode()), (Datum(b"\x00\x01", "bytes"), b"\x00\x01"),
     (Datum('{"a": 1}', "json"), b'{"a": 1}'), (Datum(None, None), None), (None, None)],
)
def test_blob_output_content(datum: Any, content: bytes | None) -> None:
    assert blob_binding.output_content(datum, "out") == content


def test_blob_trigger_metadata_feeds_the_library_converter() -> None:
    store = MemoryBlobStore(lambda: 1_700_000_000.0)
    props = store.put("uploads", "dir/a b.txt", b"abc", content_type="text/plain", metadata={"k": "v"})
    metadata = blob_binding.trigger_metadata(props, {"name": "dir/a b"})
    stream = func.blob.BlobConverter.decode(Datum(b"abc", "bytes"), trigger_metadata=metadata)
    assert stream.name == "uploads/dir/a b.txt"
    assert stream.length == 3
    assert stream.uri == "http://127.0.0.1:10000/devstoreaccount1/uploads/dir/a%20b.txt"
    assert stream.metadata == {"k": "v"}
    assert stream.blob_properties["ContentType"] == "text/plain"
    assert stream.read() == b"abc"
    data = blob_binding.binding_data(props, {"name": "dir/a b"})
    assert data["name"] == "dir/a b" and data["BlobTrigger"] == "uploads/dir/a b.txt"


class FakeRequest:
    def __init__(self, body: bytes, params: dict[str, str], route: dict[str, str], headers: dict[str, str]) -> None:
        self._body, self.params, self.route_params, self.headers = body, params, route, headers

    def get_body(self) -> bytes:
        return self._body


@pytest.mark.parametrize(
    ("body", "params", "route", "expected"),
    [
        (b'{"id": "body", "x": 1}', {}, {}, {"id": "body", "x": "1"}),
        (b'{"id": "body"}', {"id": "query"}, {}, {"id": "query"}),
        (b'{"id": "body"}', {"id": "query"}, {"id": "route"}, {"id": "route"}),
        (b"not json", {"code": "secret", "q": "1"}, {}, {"q": "1"}),
        (b"\xff", {}, {"name": "n"}, {"name": "n"}),
    ],
)
def test_http_binding_data_precedence(body: bytes, params: dict[str, str], route: dict[str, str],
                                      expected: dict[str, Any]) -> None:
    data = http_binding_data(FakeRequest(body, params, route, {"x-id": "h"}))
    for key, value in expected.items():
        assert str(data[key]) == value
    assert "code" not in data and "code" not in data["Query"]
    assert data["Headers"] == {"x-id": "h"}


def people() -> MemoryTableStore:
    store = MemoryTableStore()
    for pk, rk, age in [("a", "1", 30), ("a", "2", 20), ("b", "1", 40), ("b", "2", 50)]:
        store.insert("People", {"PartitionKey": pk, "RowKey": rk, "Age": age})
    return store


@pytest.mark.parametrize(
    ("pk", "rk", "filter_text", "take", "expected"),
    [
        # [QUIRK] rowKey is ignored, as the Tables extension does for non-.NET languages: the whole partition.
        ("a", "1", None, None, ["a1", "a2"]),
        ("a", "9", None, None, ["a1", "a2"]),
        (None, "1", None, None, ["a1", "a2", "b1", "b2"]),
        ("b", "1", "Age gt 45", None, ["b2"]),
        (None, None, None, None, ["a1", "a2", "b1", "b2"]),
        ("b", None, None, None, ["b1", "b2"]),
        (None, None, "Age gt 25", None, ["a1", "b1", "b2"]),
        (None, None, "Age gt 25", 2, ["a1", "b1"]),
        ("a", None, "Age lt 25 or RowKey eq '1'", 1, ["a1"]),
    ],
)
def test_table_input(pk: str | None, rk: str | None, filter_text: str | None, take: int | None, expected: Any) -> None:
    datum = table_binding.load(people(), "people", pk, rk, filter_text, take, "rows")
    if expected is None:
        assert datum.type is None
        return
    value = json.loads(datum.value)
    if isinstance(expected, dict):
        assert {k: value[k] for k in expected} == expected
    else:
        assert [e["PartitionKey"] + e["RowKey"] for e in value] == expected


@pytest.mark.parametrize(
    ("pk", "rk", "filter_text", "take", "message"),
    [(None, None, "Age gt", None, "not valid"),
     (None, None, None, 0, "at least 1")],
)
def test_table_input_errors(pk: str | None, rk: str | None, filter_text: str | None, take: int | None,
                            message: str) -> None:
    with pytest.raises(OvercastError, match=message):
        table_binding.load(people(), "people", pk, rk, filter_text, take, "rows")


@pytest.mark.parametrize(
    ("value", "pk", "rk", "expected"),
    [
        ('{"PartitionKey": "p", "RowKey": "r", "A": 1}', None, None, [{"PartitionKey": "p", "RowKey": "r", "A": 1}]),
        ('[{"RowKey": "1"}, {"RowKey": "2", "PartitionKey": "own"}]', "p", None,
         [{"RowKey": "1", "PartitionKey": "p"}, {"RowKey": "2", "PartitionKey": "own"}]),
        ('{"A": 1}', "p", "r", [{"A": 1, "PartitionKey": "p", "RowKey": "r"}]),
        ("[]", None, None, []),
    ],
)
def test_table_output_entities(value: str, pk: str | None, rk: str | None, expected: list[dict[str, Any]]) -> None:
    assert table_binding.entities(Datum(value, "string"), pk, rk, "out") == expected


@pytest.mark.parametrize(
    ("datum", "message"),
    [(Datum("{not json", "string"), "JSON of an entity"), (Datum('{"RowKey": "r"}', "json"), "no PartitionKey"),
     (Datum("[1]", "json"), "JSON object"), (Datum(b"{}", "bytes"), "not bytes")],
)
def test_table_output_errors(datum: Any, message: str) -> None:
    with pytest.raises(OvercastError, match=message):
        table_binding.entities(datum, None, None, "out")


@pytest.mark.parametrize(
    ("section", "cores", "batch", "threshold", "poison"),
    [({}, 2, 9, 7, 5), ({"maxdegreeofparallelism": 1}, 2, 1, 0, 5), ({"maxdegreeofparallelism": 100}, 1, 32, 68, 5),
     ({"poisonblobthreshold": 2}, 1, 5, 3, 2)],
)
def test_blob_queue_options(section: dict[str, Any], cores: int, batch: int, threshold: int, poison: int) -> None:
    options = blob_queue_options(QueueOptions(), section, cores)
    assert (options.batch_size, options.new_batch_threshold, options.max_dequeue_count) == (batch, threshold, poison)


def test_blob_queue_options_reject_bad_values() -> None:
    with pytest.raises(OvercastError, match="poisonBlobThreshold must be at least 1"):
        blob_queue_options(QueueOptions(), {"poisonblobthreshold": 0}, 1)


def test_trigger_queue_name_is_a_valid_queue_name() -> None:
    assert trigger_queue_name("myhost-123") == "azure-webjobs-blobtrigger-myhost-123"
    assert len(trigger_queue_name("x" * 32)) <= 63


def _watch(name: str, path: str) -> BlobWatch:
    spec = FunctionSpec(name=name, func=lambda: None, bindings=(), directory="", script_file="")
    return BlobWatch(spec, BlobPathPattern.parse(path))


def test_receipts_enqueue_each_version_once_per_function() -> None:
    state, queues, blobs = MemoryStateStore(), MemoryQueueStore(), MemoryBlobStore()
    receipts = BlobReceipts(state, queues, "host", "none")
    one, two = _watch("one", "box/{name}"), _watch("two", "box/{name}")
    first = blobs.put("box", "a", b"1")
    assert receipts.notify(one, first) is Notice.ENQUEUED and receipts.notify(two, first) is Notice.ENQUEUED
    assert receipts.notify(one, first) is Notice.SETTLED  # same version, same function: never again
    second = blobs.put("box", "a", b"2")
    assert receipts.notify(one, second) is Notice.ENQUEUED  # a new ETag is a new version
    messages = [json.loads(m.body) for m in queues.receive(receipts.queue, 32, 30)]
    assert [(m["FunctionId"], m["ETag"]) for m in messages] == [
        ("Host.Functions.one", first.etag), ("Host.Functions.two", first.etag), ("Host.Functions.one", second.etag)]
    assert messages[0] == {"Type": "BlobTrigger", "FunctionId": "Host.Functions.one", "BlobType": "BlockBlob",
                           "ContainerName": "box", "BlobName": "a", "ETag": first.etag}


@pytest.mark.parametrize(
    ("receipt", "take_over", "expected"),
    [
        ({"state": "completed", "at": 0}, True, Notice.SETTLED),
        ({"state": "pending", "at": 0}, False, Notice.PENDING),  # a notification never takes over
        ({"state": "pending", "at": 0}, True, Notice.ENQUEUED),  # the scanner takes over a stale claim
        ({"state": "pending", "at": 1e12}, True, Notice.PENDING),  # a recent claim is someone's work in progress
        ({"state": "pending"}, True, Notice.ENQUEUED),  # no claim time: as good as stale
        ("not json {", False, Notice.ENQUEUED),  # an unreadable receipt must not block the blob forever
        ("[" * 100_000, False, Notice.ENQUEUED),
    ],
)
def test_an_existing_receipt_decides_the_notice(receipt: Any, take_over: bool, expected: Notice) -> None:
    state, queues, blobs = MemoryStateStore(), MemoryQueueStore(), MemoryBlobStore()
    receipts = BlobReceipts(state, queues, "host", "none")
    props = blobs.put("box", "a", b"1")
    key = f"blobreceipts/host/Host.Functions.one/{props.etag}/box/a"
    state.put(key, receipt if isinstance(receipt, str) else json.dumps(receipt))
    assert receipts.notify(_watch("one", "box/{name}"), props, take_over_stale=take_over) is expected
    assert len(queues.receive(receipts.queue, 32, 30)) == (expected is Notice.ENQUEUED)
    if expected is Notice.ENQUEUED:
        assert json.loads(state.get(key) or "{}")["state"] == "completed"
    assert blob_receipts.STALE_CLAIM_SECONDS == 30.0  # the extension's receipt lease
