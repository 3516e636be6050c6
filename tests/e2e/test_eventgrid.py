"""Event Grid end to end: the trigger webhook (validation, notification, CloudEvents), local topics with filters,
retries and dead letters over two instances, the output binding to a remote endpoint, blob events, the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hosting import run_overcast

pytestmark = pytest.mark.e2e
WEBHOOK = "/runtime/webhooks/eventgrid"
FAST_RETRIES = {"OVERCAST_EVENTGRID_RETRY_SCHEDULE": "0.2,0.4", "OVERCAST_EVENTGRID_POLL_SECONDS": "0.2"}


def markers(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def cli(host, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = run_overcast(*args, "--script-root", str(host.app_dir), "--data-dir", str(host.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def event(event_id: str, subject: str = "/orders/1", data: Any = None, event_type: str = "Contoso.Orders.Created"
          ) -> dict[str, Any]:
    return {"id": event_id, "subject": subject, "eventType": event_type, "eventTime": "2024-05-01T12:00:00Z",
            "dataVersion": "1.0", "data": data if data is not None else {"n": event_id},
            "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.EventGrid/topics/z"}


def test_webhook_validation_and_notification_need_the_extension_key(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", env={"MARKER_DIR": str(marker_dir)})
    keys = host.keys()
    system = keys["system"]["eventgrid_extension"]  # made at start, as the extension does
    c = host.client
    params = {"functionName": "on_event"}
    validation = [{**event("v1", subject=""), "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                   "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}]
    headers = {"aeg-event-type": "SubscriptionValidation"}
    assert c.post(WEBHOOK, params=params, headers=headers, json=validation).status_code == 401
    assert c.post(WEBHOOK, params={**params, "code": "wrong"}, headers=headers, json=validation).status_code == 401
    reply = c.post(WEBHOOK, params={**params, "code": system}, headers=headers, json=validation)
    assert reply.status_code == 200
    assert reply.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    master = {"x-functions-key": str(keys["master"])}
    notify = {**master, "aeg-event-type": "Notification"}
    batch = [event("e1", data={"k": 1}), event("e2", data={"k": 2})]
    assert c.post(WEBHOOK, params=params, headers=notify, json=batch).status_code == 202
    assert sorted(m["id"] for m in markers(marker_dir, "on_event")) == ["e1", "e2"]  # once per event, before 202
    first = next(m for m in markers(marker_dir, "on_event") if m["id"] == "e1")
    assert (first["subject"], first["event_type"], first["data"], first["data_version"], first["event_time"]) == (
        "/orders/1", "Contoso.Orders.Created", {"k": 1}, "1.0", "2024-05-01T12:00:00+00:00")
    failing = c.post(WEBHOOK, params=params, headers=notify, json=[event("e3"), event("e4", data={"fail": "nope"})])
    assert failing.status_code == 500 and "failing on purpose: nope" in failing.text
    single = c.post(WEBHOOK, params=params, headers=notify, json=event("e5"))  # one object: a batch of one
    assert single.status_code == 202
    assert c.post(WEBHOOK, params=params, headers={**master, "aeg-event-type": "Unsubscribe"}).status_code == 202
    assert c.post(WEBHOOK, params=params, headers=master, json=batch).status_code == 400
    missing = c.post(WEBHOOK, params={"functionName": "nope"}, headers=notify, json=batch)
    assert missing.status_code == 404 and missing.text == "cannot find function: 'nope'"


def test_cloud_events_handshake_validation_and_delivery(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", "--no-auth", env={"MARKER_DIR": str(marker_dir)})
    c = host.client
    params = {"functionName": "on_cloud_event"}
    handshake = c.request("OPTIONS", WEBHOOK, params=params, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert handshake.status_code == 200
    assert handshake.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
    assert c.request("OPTIONS", WEBHOOK, params=params).status_code == 400
    validation = {"specversion": "1.0", "id": "v", "source": "/x",
                  "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
                  "data": json.dumps({"validationCode": "cloud-code"})}  # double-encoded, as Event Grid sends it
    reply = c.post(WEBHOOK, params=params, headers={"aeg-event-type": "SubscriptionValidation"}, json=validation)
    assert reply.json() == {"validationResponse": "cloud-code"}
    cloud = {"specversion": "1.0", "id": "c1", "source": "/orders", "type": "Contoso.Orders.Created",
             "time": "2024-05-01T12:00:00Z", "subject": "/orders/7", "data": {"n": 7}}
    notified = c.post(WEBHOOK, params=params, headers={"aeg-event-type": "Notification"}, json=[cloud])
    assert notified.status_code == 202
    [seen] = markers(marker_dir, "on_cloud_event")
    assert (seen["type"], seen["id"], seen["data"]) == ("CloudEvent", "c1", {"n": 7})


def test_manual_invoke_takes_an_event(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", "--no-auth", env={"MARKER_DIR": str(marker_dir)})
    reply = host.client.post("/admin/functions/on_event", json={"input": json.dumps(event("m1", data={"x": "y"}))})
    assert reply.status_code == 202
    wait_until(lambda: markers(marker_dir, "on_event"), what="the manual invocation")
    assert markers(marker_dir, "on_event")[0]["data"] == {"x": "y"}
    assert host.client.post("/admin/functions/on_event", json={"input": "not json"}).status_code == 400


def test_local_topic_filters_retries_and_dead_letters_over_two_instances(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", "--no-auth", "--workers", "2",
                      env={"MARKER_DIR": str(marker_dir), "ORDERS_TOPIC_URI": "orders", **FAST_RETRIES})
    sent = host.client.post("/api/emit", json=[{"id": 1}, {"id": 2, "subject": "/orders/2-vip"},
                                               {"id": 3, "subject": "/orders/flaky"},
                                               {"id": 4, "subject": "/invoices/4"}])
    assert sent.status_code == 200
    wait_until(lambda: len(markers(marker_dir, "on_event")) == 3, what="the orders subscription")
    wait_until(lambda: len(markers(marker_dir, "flaky")) == 3, what="three attempts of the failing subscription")
    wait_until(lambda: "ALWAYS-FAILING/" in cli(host, "blob", "list", "deadletters"), what="the dead letter")
    # subjectBeginsWith "/orders/": not the invoice; includedEventTypes + subjectEndsWith "-vip": only order 2
    assert sorted(m["id"] for m in markers(marker_dir, "on_event")) == ["1", "2", "3"]
    assert [m["id"] for m in markers(marker_dir, "on_cloud_event")] == ["2"]
    topic = markers(marker_dir, "on_event")[0]["topic"]
    assert topic.endswith("/providers/Microsoft.EventGrid/topics/orders")
    name = cli(host, "blob", "list", "deadletters").split()[0]
    [record] = json.loads(cli(host, "blob", "get", f"deadletters/{name}"))
    assert name.startswith("ALWAYS-FAILING/") and name.endswith(".json")
    assert record["id"] == "3" and record["subject"] == "/orders/flaky"
    assert (record["deadLetterReason"], record["deliveryAttempts"]) == ("MaxDeliveryAttemptsExceeded", 3)
    assert "flaky always fails" in record["lastDeliveryError"]
    assert {"publishTime", "lastDeliveryAttemptTime", "lastDeliveryOutcome"} <= set(record)
    time.sleep(1)  # nothing more arrives: each event was delivered once per matching subscription
    assert len(markers(marker_dir, "on_event")) == 3 and len(markers(marker_dir, "flaky")) == 3


class Recorder(BaseHTTPRequestHandler):
    """An Event Grid-compatible topic endpoint: records each POST (headers and body), answers 200."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": json.loads(body)})
        status = 401 if self.headers.get("aeg-sas-key") != "topic-secret" else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def remote_topic() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/events", received
    server.shutdown()
    server.server_close()


def test_output_to_a_remote_endpoint_sends_the_topic_key(start_host, marker_dir: Path, remote_topic) -> None:
    url, received = remote_topic
    host = start_host("eventgrid", "--no-auth", env={"MARKER_DIR": str(marker_dir), "REMOTE_TOPIC_URI": url,
                                                     "REMOTE_TOPIC_KEY": "topic-secret"})
    assert host.client.post("/api/emit-remote", json={"id": "r1"}).status_code == 200
    [request] = received
    assert request["headers"]["aeg-sas-key"] == "topic-secret"
    assert request["headers"]["content-type"].startswith("application/json")
    [sent] = request["body"]
    assert (sent["id"], sent["subject"], sent["eventType"], sent["dataVersion"], sent["data"]) == (
        "r1", "/remote", "Remote.Sent", "1.0", {"id": "r1"})
    assert sent["eventTime"]
    # a wrong key: the endpoint's 401 fails the invocation (the HTTP function answers 500)
    bad = start_host("eventgrid", "--no-auth", env={"MARKER_DIR": str(marker_dir), "REMOTE_TOPIC_URI": url,
                                                    "REMOTE_TOPIC_KEY": "wrong"})
    assert bad.client.post("/api/emit-remote", json={"id": "r2"}).status_code == 500
    bad.wait_for("answered 401")


def test_blob_events_drive_event_grid_blob_triggers(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", "--no-auth", "--workers", "2", env={"MARKER_DIR": str(marker_dir), **FAST_RETRIES})
    source = marker_dir.parent / "cli.txt"
    source.write_text("from the cli")
    cli(host, "blob", "put", "uploads/cli.txt", str(source))  # another process: the store publishes the event
    assert host.client.post("/api/upload/bound.txt", content=b"from a binding").status_code == 200
    wait_until(lambda: len(markers(marker_dir, "on_upload")) == 2, what="two blob-triggered runs")
    runs = {m["blob_name"]: m for m in markers(marker_dir, "on_upload")}
    assert runs["uploads/cli.txt"]["content"] == "from the cli"
    assert runs["uploads/bound.txt"]["content"] == "from a binding" and runs["uploads/bound.txt"]["length"] == 14
    host.wait_for("Reason='New blob detected(EventGrid): uploads/cli.txt'")
    cli(host, "blob", "delete", "uploads/cli.txt")
    wait_until(lambda: markers(marker_dir, "on_event"), what="the BlobDeleted event")
    [deleted] = markers(marker_dir, "on_event")
    assert deleted["event_type"] == "Microsoft.Storage.BlobDeleted"
    assert deleted["subject"] == "/blobServices/default/containers/uploads/blobs/cli.txt"
    assert deleted["topic"].endswith("/providers/Microsoft.Storage/storageAccounts/devstoreaccount1")
    data = deleted["data"]
    assert data["api"] == "DeleteBlob" and data["url"].endswith("/devstoreaccount1/uploads/cli.txt")
    assert {"clientRequestId", "requestId", "contentType", "blobType", "sequencer", "storageDiagnostics"} <= set(data)
    time.sleep(1)
    assert len(markers(marker_dir, "on_upload")) == 2  # each blob ran once, over two instances, and no scan ran it


def test_the_blobs_webhook_runs_an_event_grid_blob_trigger(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", env={"MARKER_DIR": str(marker_dir)})
    source = marker_dir.parent / "w.txt"
    source.write_text("webhook")
    cli(host, "blob", "put", "uploads/w.txt", str(source))
    wait_until(lambda: markers(marker_dir, "on_upload"), what="the blob event")
    key = host.keys()["system"]["blobs_extension"]
    created = {"id": "b1", "eventType": "Microsoft.Storage.BlobCreated", "subject":
               "/blobServices/default/containers/uploads/blobs/w.txt", "eventTime": "2024-05-01T12:00:00Z",
               "dataVersion": "", "data": {"api": "PutBlob", "url": "http://x/devstoreaccount1/uploads/w.txt"}}
    params = {"functionName": "Host.Functions.on_upload", "code": key}
    reply = host.client.post("/runtime/webhooks/blobs", params=params, headers={"aeg-event-type": "Notification"},
                             json=[created])
    assert reply.status_code == 202
    assert [m["content"] for m in markers(marker_dir, "on_upload")] == ["webhook", "webhook"]
    assert host.client.post("/runtime/webhooks/blobs", params={**params, "code": "x"},
                            headers={"aeg-event-type": "Notification"}, json=[created]).status_code == 401


def eventgrid(app_dir: Path, data_dir: Path, *args: str) -> str:
    result = run_overcast("eventgrid", *args, "--script-root", str(app_dir), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_publishes_and_a_restart_loses_no_delivery(start_host, marker_dir: Path, tmp_path: Path) -> None:
    from tests.e2e.hosting import APPS

    app, data = APPS / "eventgrid", tmp_path / "data"
    # published while no host runs: the events wait in the store
    eventgrid(app, data, "publish", "orders", "--subject", "/orders/flaky", "--type", "Contoso.Orders.Created")
    batch = [{"subject": "/orders/5", "eventType": "T", "data": {"n": 5}}]
    eventgrid(app, data, "publish", "orders", json.dumps(batch))
    assert eventgrid(app, data, "pending").startswith("2 event(s) published and not routed yet")
    assert eventgrid(app, data, "topics").splitlines() == ["orders\t3\t0", "storage\t1\t0"]
    env = {"MARKER_DIR": str(marker_dir), "OVERCAST_EVENTGRID_RETRY_SCHEDULE": "6"}
    host = start_host("eventgrid", "--no-auth", env=env, data_dir=data)
    wait_until(lambda: len(markers(marker_dir, "flaky")) == 1 and len(markers(marker_dir, "on_event")) == 2,
               what="the first deliveries")
    [waiting] = [json.loads(line) for line in eventgrid(app, data, "pending", "--json").splitlines()]
    assert (waiting["subscription"], waiting["attempts"]) == ("always-failing", 1)
    assert "flaky always fails" in waiting["lastError"]
    assert host.stop() == 0
    # the next start (with short waits) takes the delivery up where it was (due 6 s after the first failure): two
    # more attempts, then the dead letter
    start_host("eventgrid", "--no-auth", env={**env, **FAST_RETRIES}, data_dir=data)
    wait_until(lambda: eventgrid(app, data, "deadletters").strip(), timeout=40, what="the dead letter")
    [dead] = [json.loads(line) for line in eventgrid(app, data, "deadletters", "--json").splitlines()]
    assert (dead["subscription"], dead["deadLetterReason"], dead["deliveryAttempts"]) == (
        "always-failing", "MaxDeliveryAttemptsExceeded", 3)
    assert dead["event"]["subject"] == "/orders/flaky" and dead["event"]["topic"].endswith("/topics/orders")
    assert len(markers(marker_dir, "flaky")) == 3 and len(markers(marker_dir, "on_event")) == 2
    assert eventgrid(app, data, "pending", "--json").strip() == ""
    bad = run_overcast("eventgrid", "publish", "orders", '{"subject": "/x"}', "--script-root", str(app),
                       "--data-dir", str(data))
    assert bad.returncode == 1 and "has no 'eventType'" in bad.stderr


def test_local_topics_accept_events_over_http(start_host, marker_dir: Path) -> None:
    host = start_host("eventgrid", env={"MARKER_DIR": str(marker_dir)})
    key = str(host.keys()["system"]["eventgrid_extension"])
    url = "/runtime/webhooks/eventgrid/topics/orders/api/events"
    body = [{"id": "h1", "subject": "/orders/h1", "eventType": "Contoso.Orders.Created", "data": {"via": "http"}}]
    assert host.client.post(url, json=body).status_code == 401
    assert host.client.post(url, json=body, headers={"aeg-sas-key": "wrong"}).status_code == 401
    assert host.client.post(url, json=body, headers={"aeg-sas-key": key}).status_code == 200
    wait_until(lambda: markers(marker_dir, "on_event"), what="the event published over HTTP")
    [seen] = markers(marker_dir, "on_event")
    assert (seen["id"], seen["data"]) == ("h1", {"via": "http"}) and seen["topic"].endswith("/topics/orders")
    refused = host.client.post(url, json=[{"subject": "/x"}], headers={"aeg-sas-key": key})
    assert refused.status_code == 400 and "eventType" in refused.json()["error"]["message"]


def test_webhook_subscriptions_get_event_grid_deliveries(start_host, marker_dir: Path, tmp_path: Path,
                                                         remote_topic) -> None:
    import shutil

    from tests.e2e.hosting import APPS

    url, received = remote_topic
    app = tmp_path / "app"
    shutil.copytree(APPS / "eventgrid", app)
    (app / "eventgrid.json").write_text(json.dumps({"topics": {"orders": {"subscriptions": {
        "erp": {"endpoint": url},  # the recorder wants an aeg-sas-key a subscription never sends: 401
        "dead-erp": {"endpoint": url, "deadLetter": {"container": "deadletters"}},
    }}}}))
    host = start_host("eventgrid", "--no-auth", app_dir=app, env={"MARKER_DIR": str(marker_dir), **FAST_RETRIES})
    eventgrid(app, host.data_dir, "publish", "orders", "--subject", "/orders/w1", "--type", "T", "--data", '{"n": 1}')
    wait_until(lambda: len(received) == 2, what="one delivery per webhook subscription")
    wait_until(lambda: "DEAD-ERP/" in cli(host, "blob", "list", "deadletters"), what="the dead letter")
    by_name = {r["headers"]["aeg-subscription-name"]: r for r in received}
    assert set(by_name) == {"ERP", "DEAD-ERP"}
    delivery = by_name["ERP"]
    assert delivery["headers"]["aeg-event-type"] == "Notification"
    assert delivery["headers"]["aeg-delivery-count"] == "0"
    [sent] = delivery["body"]  # Event Grid schema: an array of one event
    assert (sent["subject"], sent["eventType"], sent["data"]) == ("/orders/w1", "T", {"n": 1})
    # 401 is not retried: dead-lettered after one attempt, with the status (and "erp", with no container, dropped)
    name = cli(host, "blob", "list", "deadletters").split()[0]
    [record] = json.loads(cli(host, "blob", "get", f"deadletters/{name}"))
    assert (record["deliveryAttempts"], record["lastHttpStatusCode"], record["lastDeliveryOutcome"]) == (
        1, 401, "Unauthorized")
    time.sleep(1)
    assert len(received) == 2


def test_the_azure_eventgrid_sdk_publishes_to_a_local_topic(start_host, marker_dir: Path) -> None:
    from azure.core.credentials import AzureKeyCredential
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridEvent, EventGridPublisherClient

    host = start_host("eventgrid", env={"MARKER_DIR": str(marker_dir)})
    key = str(host.keys()["system"]["eventgrid_extension"])
    endpoint = f"{host.base}/runtime/webhooks/eventgrid/topics/orders/api/events"
    with EventGridPublisherClient(endpoint, AzureKeyCredential(key)) as client:
        client.send([EventGridEvent(subject="/orders/sdk", event_type="Contoso.Orders.Created", data={"via": "sdk"},
                                    data_version="1.0")])
    wait_until(lambda: markers(marker_dir, "on_event"), what="the SDK's event")
    [seen] = markers(marker_dir, "on_event")
    assert (seen["subject"], seen["data"], seen["data_version"]) == ("/orders/sdk", {"via": "sdk"}, "1.0")
    with EventGridPublisherClient(endpoint, AzureKeyCredential(key)) as client:  # CloudEvents 1.0, "-vip" subject
        client.send([CloudEvent(source="/sdk", type="Contoso.Orders.Created", data={"n": 2}, subject="/orders/2-vip")])
    wait_until(lambda: markers(marker_dir, "on_cloud_event"), what="the SDK's CloudEvent")
    [cloud] = markers(marker_dir, "on_cloud_event")
    assert (cloud["type"], cloud["data"]) == ("CloudEvent", {"n": 2})


def test_blobs_written_with_the_storage_sdk_publish_blob_events(start_host, marker_dir: Path) -> None:
    """The Blob REST API's own operations (put, put block list, delete) publish to the account's topic too, so an
    SDK upload drives ``blob_trigger(source="EventGrid")`` as on Azure."""
    from azure.storage.blob import BlobBlock, BlobServiceClient

    from tests.e2e.hosting import free_port
    from tests.e2e.test_storage_endpoints import connection

    port = free_port()
    env = {"MARKER_DIR": str(marker_dir), "OVERCAST_STORAGE_ENDPOINTS": "on", "OVERCAST_BLOB_PORT": str(port),
           "OVERCAST_BLOB_SCAN_SECONDS": "600", **FAST_RETRIES}  # no scan could find them within the test
    start_host("eventgrid", "--no-auth", env=env)
    container = BlobServiceClient.from_connection_string(connection(port)).get_container_client("uploads")
    if not container.exists():
        container.create_container()
    container.upload_blob("sdk.txt", b"put blob")
    staged = container.get_blob_client("blocks.txt")
    staged.stage_block("YmxvY2stMQ==", b"put ")
    staged.stage_block("YmxvY2stMg==", b"block list")
    staged.commit_block_list([BlobBlock("YmxvY2stMQ=="), BlobBlock("YmxvY2stMg==")])
    wait_until(lambda: len(markers(marker_dir, "on_upload")) == 2, what="both SDK uploads' blob-triggered runs")
    runs = {m["blob_name"]: m["content"] for m in markers(marker_dir, "on_upload")}
    assert runs == {"uploads/sdk.txt": "put blob", "uploads/blocks.txt": "put block list"}
    container.delete_blob("sdk.txt")
    wait_until(lambda: markers(marker_dir, "on_event"), what="the BlobDeleted event of the SDK's delete")
    [deleted] = markers(marker_dir, "on_event")
    assert deleted["event_type"] == "Microsoft.Storage.BlobDeleted" and deleted["data"]["api"] == "DeleteBlob"
    assert deleted["subject"] == "/blobServices/default/containers/uploads/blobs/sdk.txt"


def test_instances_running_different_functions_split_the_deliveries(start_host, marker_dir: Path,
                                                                    tmp_path: Path) -> None:
    """As the Kubernetes manifests split an app (HTTP functions in one deployment, the rest in another, by an allow
    list): every instance routes for the whole app, and each takes only the deliveries it can make."""
    data = tmp_path / "shared"

    def only(*functions: str) -> dict[str, str]:
        allow = {f"AzureFunctionsJobHost__functions__{n}": name for n, name in enumerate(functions)}
        return {"MARKER_DIR": str(marker_dir), "ORDERS_TOPIC_URI": "orders", **FAST_RETRIES, **allow}

    back = start_host("eventgrid", "--no-auth", env=only("on_event", "on_cloud_event", "flaky", "on_upload"),
                      data_dir=data)
    # Started after: it runs no blob trigger itself, and must not switch the app's blob events off.
    front = start_host("eventgrid", "--no-auth", env=only("emit", "upload"), data_dir=data)
    assert front.client.post("/api/emit", json=[{"id": n, "subject": f"/orders/{n}-vip"} for n in range(6)]
                             ).status_code == 200
    assert front.client.post("/api/upload/split.txt", content=b"from the front").status_code == 200
    wait_until(lambda: len(markers(marker_dir, "on_event")) == 6 and len(markers(marker_dir, "on_cloud_event")) == 6
               and len(markers(marker_dir, "on_upload")) == 1, what="every delivery, made by the back instance")
    time.sleep(1)  # nothing more arrives, and nothing was attempted where the function does not run
    assert len(markers(marker_dir, "on_event")) == 6 and len(markers(marker_dir, "on_upload")) == 1
    ran = [m["pid"] for name in ("on_event", "on_cloud_event", "on_upload") for m in markers(marker_dir, name)]
    assert len(set(ran)) == 1, ran  # the back instance's one process
    assert "is not loaded" not in front.output and "failed (attempt" not in front.output, front.output
    assert "Executed 'Functions.on_upload' (Succeeded" in back.output
