"""The durable client binding value (spec §6.1) and instance links, checked against the real SDK client."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient

from overcast.durable.api.client_binding import (
    INSTANCE_PLACEHOLDER,
    WebhookLinks,
    check_status_headers,
    client_binding,
    client_binding_json,
    new_rpc_secret,
    rpc_base_url,
)

ORIGIN = "http://127.0.0.1:7071"
BASE = f"{ORIGIN}/runtime/webhooks/durabletask"
RPC = "http://127.0.0.1:7071/runtime/webhooks/durabletask/rpc/S3cret/"


@pytest.mark.parametrize(("port", "host", "url"), [
    (7071, "127.0.0.1", RPC),
    (8080, "::1", "http://[::1]:8080/runtime/webhooks/durabletask/rpc/S3cret/"),
])
def test_rpc_base_url_carries_the_secret_and_ends_with_a_slash(port: int, host: str, url: str) -> None:
    assert rpc_base_url(port, "S3cret", host) == url


@pytest.mark.parametrize("secret", ["", "a/b"])
def test_the_secret_must_be_one_path_segment(secret: str) -> None:
    with pytest.raises(ValueError, match="one non-empty path segment"):
        rpc_base_url(7071, secret)


def test_each_new_secret_is_a_long_url_safe_segment() -> None:
    first, second = new_rpc_secret(), new_rpc_secret()
    assert first != second and len(first) >= 43
    assert rpc_base_url(1, first).endswith(f"/rpc/{first}/")


def test_binding_with_a_system_key_matches_the_extension_payload() -> None:
    binding = client_binding(public_origin=ORIGIN, hub="MyHub", connection=None, system_key="XYZ", rpc_base=RPC)
    suffix = "taskHub=MyHub&connection=Storage&code=XYZ"
    assert binding == {
        "taskHubName": "MyHub",
        "connectionName": None,
        "creationUrls": {
            "createNewInstancePostUri": f"{BASE}/orchestrators/{{functionName}}[/{{instanceId}}]?code=XYZ",
            "createAndWaitOnNewInstancePostUri": f"{BASE}/orchestrators/{{functionName}}[/{{instanceId}}]"
                                                 "?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
                                                 "&code=XYZ",
        },
        "managementUrls": {
            "id": "INSTANCEID",
            "statusQueryGetUri": f"{BASE}/instances/INSTANCEID?{suffix}",
            "sendEventPostUri": f"{BASE}/instances/INSTANCEID/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{BASE}/instances/INSTANCEID/terminate?reason={{text}}&{suffix}",
            "rewindPostUri": f"{BASE}/instances/INSTANCEID/rewind?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{BASE}/instances/INSTANCEID?{suffix}",
            "restartPostUri": f"{BASE}/instances/INSTANCEID/restart?{suffix}",
            "suspendPostUri": f"{BASE}/instances/INSTANCEID/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{BASE}/instances/INSTANCEID/resume?reason={{text}}&{suffix}",
        },
        "baseUrl": BASE,
        "requiredQueryStringParameters": "code=XYZ",
        "rpcBaseUrl": RPC,
        "httpBaseUrl": None,
    }


def test_without_a_key_there_is_no_code_and_creation_urls_end_in_the_separator() -> None:
    binding = client_binding(public_origin=ORIGIN, hub="Hub", connection="MyStorage", system_key=None, rpc_base=RPC)
    assert binding["creationUrls"]["createNewInstancePostUri"].endswith("[/{instanceId}]?")
    assert binding["creationUrls"]["createAndWaitOnNewInstancePostUri"].endswith("{intervalInSeconds}&")
    assert binding["requiredQueryStringParameters"] == ""
    assert binding["connectionName"] == "MyStorage"
    assert binding["managementUrls"]["statusQueryGetUri"].endswith("?taskHub=Hub&connection=MyStorage")
    assert "code=" not in json.dumps(binding)


def test_rpc_base_must_end_with_a_slash() -> None:
    with pytest.raises(ValueError, match="must end with '/'"):
        client_binding(public_origin=ORIGIN, hub="Hub", connection=None, system_key=None, rpc_base=RPC.rstrip("/"))


@pytest.mark.parametrize(("hub", "key", "instance_id", "status_url"), [
    ("Hub", None, "abc", f"{BASE}/instances/abc?taskHub=Hub&connection=Storage"),
    ("My Hub", "k+/=", "a b#c", f"{BASE}/instances/a%20b%23c?taskHub=My+Hub&connection=Storage&code=k%2B%2F%3D"),
])
def test_instance_links_encode_the_id_hub_and_key(hub: str, key: str | None, instance_id: str,
                                                  status_url: str) -> None:
    links = WebhookLinks(ORIGIN + "/", hub, None, key)
    payload = links.check_status_payload(instance_id)
    assert payload["statusQueryGetUri"] == status_url
    assert list(payload) == ["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
                             "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"]
    assert payload["id"] == instance_id
    assert check_status_headers(payload) == [("Location", status_url), ("Retry-After", "10")]


def test_fail_on_failure_extends_the_status_link() -> None:
    payload = WebhookLinks(ORIGIN, "Hub").check_status_payload("x", fail_on_failure=True)
    assert payload["statusQueryGetUri"].endswith("&returnInternalServerErrorOnFailure=true")


def test_the_sdk_reads_the_binding_and_fills_in_instance_ids() -> None:
    text = client_binding_json(public_origin=ORIGIN, hub="Hub", connection=None, system_key="XYZ", rpc_base=RPC)
    client = DurableOrchestrationClient(text)
    assert client._orchestration_bindings.rpc_base_url == RPC
    payload = client.create_http_management_payload("inst-1")
    assert payload["statusQueryGetUri"] == f"{BASE}/instances/inst-1?taskHub=Hub&connection=Storage&code=XYZ"
    assert payload["rewindPostUri"].startswith(f"{BASE}/instances/inst-1/rewind?reason={{text}}&")
    assert INSTANCE_PLACEHOLDER not in json.dumps(payload)


def test_the_sdk_check_status_response_uses_the_request_origin() -> None:
    text = client_binding_json(public_origin=ORIGIN, hub="Hub", connection=None, system_key=None, rpc_base=RPC)
    client = DurableOrchestrationClient(text)
    request = func.HttpRequest("GET", "https://example.test:8443/api/start", body=b"")
    response = client.create_check_status_response(request, "inst-2")
    assert response.status_code == 202
    location = "https://example.test:8443/runtime/webhooks/durabletask/instances/inst-2?taskHub=Hub&connection=Storage"
    assert response.headers["Location"] == location
    assert json.loads(response.get_body())["statusQueryGetUri"] == location
