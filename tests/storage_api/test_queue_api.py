"""The Queue API through the real ``azure-storage-queue`` SDK (sync and async), against Overcast and Azurite alike.

Every test runs once per server (the ``target`` fixture): both must give the SDK the same results.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient as AsyncQueueServiceClient

from .conftest import Target


def service(target: Target) -> QueueServiceClient:
    return QueueServiceClient.from_connection_string(target.connection_string)


def queue(target: Target, name: str) -> QueueClient:
    return QueueClient.from_connection_string(target.connection_string, name)


def test_queues_are_created_listed_described_and_deleted(target: Target, name: str) -> None:
    client = service(target)
    client.create_queue(name + "a", metadata={"owner": "ops"})
    client.create_queue(name + "b")
    found = list(client.list_queues(name_starts_with=name, include_metadata=True))
    assert [(q.name, q.metadata) for q in found] == [(name + "a", {"owner": "ops"}), (name + "b", {})]
    pages = client.list_queues(name_starts_with=name, results_per_page=1).by_page()
    assert [[q.name for q in page] for page in pages] == [[name + "a"], [name + "b"]]
    q = client.get_queue_client(name + "a")
    q.send_message("one")
    props = q.get_queue_properties()
    assert props.metadata == {"owner": "ops"} and props.approximate_message_count == 1
    q.set_queue_metadata({"stage": "two"})
    assert q.get_queue_properties().metadata == {"stage": "two"}
    client.delete_queue(name + "a")
    with pytest.raises(ResourceNotFoundError) as missing:
        q.get_queue_properties()
    assert missing.value.error_code == "QueueNotFound"
    with pytest.raises(ResourceNotFoundError) as again:
        client.delete_queue(name + "a")
    assert again.value.error_code == "QueueNotFound"


def test_service_properties_are_the_defaults(target: Target) -> None:
    props = service(target).get_service_properties()
    assert props["analytics_logging"] is not None and isinstance(props["cors"], list)  # Azurite keeps other defaults
    service(target).set_service_properties(cors=[])


def test_create_is_idempotent_unless_the_metadata_differs(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue(metadata={"a": "1"})
    with pytest.raises(ResourceExistsError) as same:  # the service answers 204; the SDK raises all the same
        q.create_queue(metadata={"a": "1"})
    assert same.value.status_code == 204
    with pytest.raises(ResourceExistsError) as conflict:
        q.create_queue(metadata={"a": "2"})
    assert conflict.value.status_code == 409 and conflict.value.error_code == "QueueAlreadyExists"


def test_invalid_queue_names_are_refused(target: Target) -> None:
    with pytest.raises(HttpResponseError) as bad:
        queue(target, "Bad_Name").create_queue()
    assert bad.value.status_code == 400 and bad.value.error_code == "InvalidResourceName"
    with pytest.raises(HttpResponseError) as short:
        queue(target, "ab").create_queue()
    assert short.value.status_code == 400 and short.value.error_code == "OutOfRangeInput"


def test_messages_put_peek_receive_update_delete(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue()
    sent = q.send_message("hello <world> & you")
    assert sent.id and sent.pop_receipt and sent.inserted_on and sent.expires_on and sent.next_visible_on
    assert (sent.expires_on - sent.inserted_on).total_seconds() == 7 * 24 * 3600
    [peeked] = q.peek_messages(max_messages=5)
    assert (peeked.id, peeked.content, peeked.dequeue_count) == (sent.id, "hello <world> & you", 0)
    assert peeked.pop_receipt is None
    [got] = q.receive_messages(max_messages=5, visibility_timeout=30)
    assert (got.id, got.content, got.dequeue_count) == (sent.id, "hello <world> & you", 1)
    assert q.peek_messages() == []  # invisible now
    updated = q.update_message(got, pop_receipt=got.pop_receipt, visibility_timeout=0, content="changed")
    assert updated.pop_receipt and updated.pop_receipt != got.pop_receipt
    [again] = q.receive_messages(visibility_timeout=30)
    assert (again.content, again.dequeue_count) == ("changed", 2)
    with pytest.raises(HttpResponseError) as stale:
        q.delete_message(again.id, got.pop_receipt)
    assert stale.value.status_code == 400 and stale.value.error_code == "PopReceiptMismatch"
    q.delete_message(again)
    with pytest.raises(ResourceNotFoundError) as gone:
        q.delete_message(again)
    assert gone.value.error_code == "MessageNotFound"
    assert q.get_queue_properties().approximate_message_count == 0


def test_visibility_timeout_and_ttl_on_put(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue()
    later = q.send_message("later", visibility_timeout=1, time_to_live=60)
    assert (later.expires_on - later.inserted_on).total_seconds() == 60
    forever = q.send_message("forever", time_to_live=-1)
    assert forever.expires_on.year == 9999
    assert [m.content for m in q.peek_messages(max_messages=32)] == ["forever"]
    time.sleep(1.2)
    assert sorted(m.content for m in q.peek_messages(max_messages=32)) == ["forever", "later"]
    with pytest.raises(HttpResponseError) as bad:
        q.send_message("x", visibility_timeout=10, time_to_live=5)
    assert bad.value.status_code == 400 and bad.value.error_code == "InvalidQueryParameterValue"
    with pytest.raises(HttpResponseError) as many:
        next(q.receive_messages(messages_per_page=33).by_page())
    assert many.value.error_code == "OutOfRangeQueryParameterValue"


def test_receive_batches_and_clear(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue()
    for n in range(5):
        q.send_message(f"m{n}")
    got = list(q.receive_messages(messages_per_page=3, visibility_timeout=30).by_page().next())
    assert [m.content for m in got] == ["m0", "m1", "m2"]
    q.clear_messages()
    assert q.peek_messages(max_messages=32) == []
    assert q.get_queue_properties().approximate_message_count == 0


def test_message_operations_on_a_missing_queue(target: Target, name: str) -> None:
    q = queue(target, name)
    for call in (lambda: q.send_message("x"), lambda: q.peek_messages(), lambda: q.clear_messages(),
                 lambda: q.receive_message(), lambda: q.delete_message("id", "receipt")):
        with pytest.raises(ResourceNotFoundError) as missing:
            call()
        assert missing.value.error_code == "QueueNotFound"


def test_base64_messages_as_the_functions_host_reads_them(target: Target, name: str) -> None:
    encoded = QueueClient.from_connection_string(target.connection_string, name,
                                                 message_encode_policy=TextBase64EncodePolicy(),
                                                 message_decode_policy=TextBase64DecodePolicy())
    encoded.create_queue()
    encoded.send_message('{"id": 1, "text": "ünïcode"}')
    [raw] = queue(target, name).peek_messages()
    assert raw.content == "eyJpZCI6IDEsICJ0ZXh0IjogIsO8bsOvY29kZSJ9"
    [decoded] = encoded.receive_messages()
    assert decoded.content == '{"id": 1, "text": "ünïcode"}'


def test_a_message_over_64_kib_is_refused(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue()
    with pytest.raises(HttpResponseError) as big:
        q.send_message("x" * (64 * 1024 + 1))
    assert big.value.status_code == 413 and big.value.error_code == "RequestBodyTooLarge"


def test_the_async_client_sees_the_same_queue(target: Target, name: str) -> None:
    async def run() -> list[str]:
        async with AsyncQueueServiceClient.from_connection_string(target.connection_string) as client:
            q = client.get_queue_client(name)
            await q.create_queue(metadata={"k": "v"})
            await q.send_message("async one")
            await q.send_message("async two")
            props = await q.get_queue_properties()
            assert props.approximate_message_count == 2 and props.metadata == {"k": "v"}
            names = [item.name async for item in client.list_queues(name_starts_with=name)]
            assert names == [name]
            got = [m async for m in q.receive_messages(max_messages=2, visibility_timeout=30)]
            for m in got:
                await q.delete_message(m)
            await q.delete_queue()
            return [m.content for m in got]

    assert asyncio.run(run()) == ["async one", "async two"]


def test_a_sas_allows_only_its_permissions(target: Target, name: str) -> None:
    from datetime import datetime, timedelta, timezone

    from azure.storage.queue import QueueSasPermissions, generate_queue_sas

    from .conftest import ACCOUNT, KEY

    queue(target, name).create_queue()
    sas = generate_queue_sas(ACCOUNT, name, KEY, permission=QueueSasPermissions(add=True),
                             expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    only_add = QueueClient.from_queue_url(f"{target.queue}/{name}", credential=sas)
    only_add.send_message("allowed")
    with pytest.raises(HttpResponseError) as refused:
        only_add.receive_message()
    assert refused.value.status_code == 403 and refused.value.error_code == "AuthorizationPermissionMismatch"


def test_the_async_client_updates_peeks_clears_and_sees_the_errors(target: Target, name: str) -> None:
    async def run() -> None:
        async with AsyncQueueServiceClient.from_connection_string(target.connection_string) as client:
            q = client.get_queue_client(name)
            with pytest.raises(ResourceNotFoundError) as missing:
                await q.send_message("x")
            assert missing.value.error_code == "QueueNotFound"
            await q.create_queue()
            await q.set_queue_metadata({"stage": "async"})
            assert (await q.get_queue_properties()).metadata == {"stage": "async"}
            sent = await q.send_message("first")
            [peeked] = await q.peek_messages()
            assert peeked.content == "first" and peeked.dequeue_count == 0
            got = [m async for m in q.receive_messages(visibility_timeout=30)]
            updated = await q.update_message(got[0], pop_receipt=got[0].pop_receipt, visibility_timeout=0,
                                             content="second")
            with pytest.raises(HttpResponseError) as stale:
                await q.delete_message(sent.id, got[0].pop_receipt)
            assert stale.value.error_code == "PopReceiptMismatch"
            [again] = await q.peek_messages()
            assert again.content == "second"
            await q.delete_message(sent.id, updated.pop_receipt)
            await q.send_message("to clear")
            await q.clear_messages()
            assert await q.peek_messages() == []
            await client.delete_queue(name)

    asyncio.run(run())


def test_no_stored_access_policies(target: Target, name: str) -> None:
    q = queue(target, name)
    q.create_queue()
    q.set_queue_access_policy(signed_identifiers={})
    assert q.get_queue_access_policy() == {}
