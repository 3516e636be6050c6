"""The Queue service's XML: message bodies in, message lists and queue listings out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from overcast.backends.base import QueuedMessage
from overcast.backends.queue_service_store import QueueInfo
from overcast.errors import StorageApiError
from overcast.storage_api.queue.xml import message_text, messages_xml, queue_list_xml

T = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MESSAGE = QueuedMessage("id-1", "a < b & ü".encode(), 2, T, T, T, "receipt")


@pytest.mark.parametrize(("body", "text"), [
    (b"<QueueMessage><MessageText>hello</MessageText></QueueMessage>", b"hello"),
    (b"<?xml version='1.0' encoding='utf-8'?><QueueMessage><MessageText>a &lt; b</MessageText></QueueMessage>",
     b"a < b"),
    ("<QueueMessage><MessageText>ü</MessageText></QueueMessage>".encode(), "ü".encode()),
    (b"<QueueMessage><MessageText /></QueueMessage>", b""),
])
def test_message_text(body: bytes, text: bytes) -> None:
    assert message_text(body) == text


@pytest.mark.parametrize("body", [b"", b"hello", b"<Other><MessageText>x</MessageText></Other>",
                                  b"<QueueMessage></QueueMessage>"])
def test_bad_message_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(StorageApiError) as refused:
        message_text(body)
    assert refused.value.code == "InvalidXmlDocument"


def test_received_messages_carry_everything() -> None:
    root = ET.fromstring(messages_xml([MESSAGE]))
    [m] = root.findall("QueueMessage")
    assert {e.tag: e.text for e in m} == {
        "MessageId": "id-1", "InsertionTime": "Wed, 01 May 2024 12:00:00 GMT",
        "ExpirationTime": "Wed, 01 May 2024 12:00:00 GMT", "PopReceipt": "receipt",
        "TimeNextVisible": "Wed, 01 May 2024 12:00:00 GMT", "DequeueCount": "2", "MessageText": "a < b & ü"}


def test_peeked_messages_have_no_receipt_and_put_ones_no_text() -> None:
    peeked = ET.fromstring(messages_xml([MESSAGE], peek=True)).find("QueueMessage")
    assert peeked is not None and peeked.find("PopReceipt") is None and peeked.find("TimeNextVisible") is None
    put = ET.fromstring(messages_xml([MESSAGE], with_text=False)).find("QueueMessage")
    assert put is not None and put.find("MessageText") is None and put.find("DequeueCount") is None


def test_queue_listing() -> None:
    body = queue_list_xml("http://h/acct/", "or", "", 2, [QueueInfo("orders", {"owner": "ops"})], "orders2", True)
    root = ET.fromstring(body)
    assert root.get("ServiceEndpoint") == "http://h/acct/"
    assert root.findtext("Prefix") == "or" and root.findtext("MaxResults") == "2"
    assert root.findtext("NextMarker") == "orders2"
    assert root.findtext("Queues/Queue/Name") == "orders" and root.findtext("Queues/Queue/Metadata/owner") == "ops"
