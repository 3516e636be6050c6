"""The endpoints' settings, binding their sockets once, and the Azurite-style connection string they print."""

from __future__ import annotations

import socket

import pytest

from overcast.errors import ConfigError
from overcast.storage_api.endpoints import (
    EndpointSettings,
    bind_endpoints,
    connection_string,
    embedded_endpoint_settings,
    endpoint_settings,
    endpoint_urls,
)


def test_defaults_are_the_development_storage_ports_on_loopback() -> None:
    settings = endpoint_settings({})
    assert settings.enabled and settings.address == "127.0.0.1"
    assert settings.ports["blob"] == 10000


@pytest.mark.parametrize(("environ", "says"), [
    ({"OVERCAST_BLOB_PORT": "ten"}, "OVERCAST_BLOB_PORT must be a port number"),
    ({"OVERCAST_BLOB_PORT": "70000"}, "OVERCAST_BLOB_PORT must be a port number"),
    ({"OVERCAST_STORAGE_ENDPOINTS": "maybe"}, "OVERCAST_STORAGE_ENDPOINTS must be"),
])
def test_bad_settings_name_the_variable(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        endpoint_settings(environ)


@pytest.mark.parametrize(("storage", "enabled"), [
    ("UseDevelopmentStorage=true", True),
    ("postgresql://db/app", False),
    ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net", False),
])
def test_served_only_with_the_embedded_store(storage: str, enabled: bool) -> None:
    assert embedded_endpoint_settings({"AzureWebJobsStorage": storage}).enabled is enabled


def test_a_free_port_is_bound_and_a_taken_one_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert bind_endpoints(EndpointSettings(True, "127.0.0.1", {"blob": port})) == {}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port} is already in use" in err
    bound = bind_endpoints(EndpointSettings(True, "127.0.0.1", {"blob": 0}))
    try:
        urls = endpoint_urls(bound)
        assert urls["blob"] == f"http://127.0.0.1:{bound['blob'].getsockname()[1]}/devstoreaccount1"
        assert connection_string(urls).startswith("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;")
        assert f"BlobEndpoint={urls['blob']};" in connection_string(urls)
    finally:
        for sock in bound.values():
            sock.close()
    assert bind_endpoints(EndpointSettings(False, "127.0.0.1", {"blob": 0})) == {}
