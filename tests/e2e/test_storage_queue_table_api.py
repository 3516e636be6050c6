"""``overcast start`` serves the Queue and Table APIs of its embedded store: a message put with the SDK fires the
queue trigger (woken at once, not at its next poll), and the SDKs see the messages and entities of the bindings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from tests.e2e.hosting import free_port
from tests.e2e.test_queues import markers, wait_until

pytestmark = pytest.mark.e2e
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection(queue_port: int, table_port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
            f"QueueEndpoint=http://127.0.0.1:{queue_port}/devstoreaccount1;"
            f"TableEndpoint=http://127.0.0.1:{table_port}/devstoreaccount1;")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sdk_messages_fire_the_trigger_and_the_sdks_see_the_bindings_data(start_host, tmp_path: Path,
                                                                           workers: str) -> None:
    markers_dir = tmp_path / "markers"
    markers_dir.mkdir()
    queue_port, table_port = free_port(), free_port()
    # The trigger polls at most once a minute when idle: a message handled within the test was announced by the
    # endpoint (or, with two workers, found by the instance that did not serve the request at its next poll).
    env = {"OVERCAST_STORAGE_ENDPOINTS": "on", "OVERCAST_BLOB_PORT": str(free_port()),
           "OVERCAST_QUEUE_PORT": str(queue_port), "OVERCAST_TABLE_PORT": str(table_port),
           "MARKER_DIR": str(markers_dir)}
    host = start_host("storage_api", "--workers", workers, env=env)
    conn = connection(queue_port, table_port)

    # A message sent with the SDK (base64, as the Functions host reads by default) fires the queue trigger.
    orders = QueueClient.from_connection_string(conn, "sdk-orders", message_encode_policy=TextBase64EncodePolicy(),
                                                message_decode_policy=TextBase64DecodePolicy())
    orders.create_queue()
    sent = orders.send_message(json.dumps({"id": 7, "item": "tea", "quantity": 3}))
    wait_until(lambda: markers(markers_dir, "orders"), what="the queue trigger of the SDK's message")
    [fired] = markers(markers_dir, "orders")
    assert fired["id"] == sent.id and fired["body"] == {"id": 7, "item": "tea", "quantity": 3}
    assert fired["dequeue_count"] == 1

    # The trigger's table output, read with the SDK; the message is gone once the function succeeded.
    table = TableClient.from_connection_string(conn, "Orders")
    wait_until(lambda: list(table.query_entities("PartitionKey eq 'orders'")), what="the trigger's table output")
    [row] = table.query_entities("PartitionKey eq 'orders'")
    assert (row["RowKey"], row["Item"], row["Quantity"]) == ("7", "tea", 3)
    wait_until(lambda: orders.get_queue_properties().approximate_message_count == 0, what="the settled message")

    # An entity written by an HTTP function's table output, read with the SDK; one written with the SDK, read by
    # the table input binding.
    assert host.client.put("/api/people/team/ada", json={"Name": "Ada", "Age": 36}).status_code == 201
    ada = TableClient.from_connection_string(conn, "People").get_entity("team", "ada")
    assert (ada["Name"], ada["Age"]) == ("Ada", 36)
    TableClient.from_connection_string(conn, "People").create_entity(
        {"PartitionKey": "team", "RowKey": "grace", "Name": "Grace", "Age": 45})
    people = host.client.get("/api/people/team").json()
    assert sorted((p["RowKey"], p["Name"], p["Age"]) for p in people) == [("ada", "Ada", 36), ("grace", "Grace", 45)]

    # A message an output binding wrote, received with the SDK.
    assert host.client.post("/api/enqueue/from-binding", content=b"hello from a binding").status_code == 202
    plain = QueueClient.from_connection_string(conn, "from-binding", message_decode_policy=TextBase64DecodePolicy())
    [got] = plain.receive_messages()
    assert got.content == "hello from a binding"
