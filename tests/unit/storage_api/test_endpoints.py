"""The endpoints' settings, binding their sockets once, and the Azurite-style connection string they print."""

from __future__ import annotations

import os
import socket

import pytest

from overcast.config.connections import resolve_connection
from overcast.errors import ConfigError
from overcast.storage_api.endpoints import (
    EndpointSettings,
    announce,
    bind_endpoints,
    connection_string,
    endpoint_settings,
    endpoint_urls,
    store_endpoint_settings,
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
    ("postgresql://db/app", True),
    ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net", False),
])
def test_served_for_the_stores_overcast_keeps(storage: str, enabled: bool) -> None:
    assert store_endpoint_settings({"AzureWebJobsStorage": storage}).enabled is enabled


@pytest.mark.parametrize(("environ", "shown", "store"), [
    ({}, True, None),
    ({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, False, None),
    ({"AzureWebJobsStorage": "postgresql://u:pw@db/app"}, True, "postgresql://u:pw@db/app"),
])
def test_announce_shows_app_code_a_connection_string_for_the_endpoints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environ: dict[str, str], shown: bool,
    store: str | None,
) -> None:
    for name in ("AzureWebJobsStorage", "OVERCAST_APP_STORE"):
        monkeypatch.setenv(name, "")  # recorded, so what announce sets is undone after the test
        monkeypatch.delenv(name)
    bound = bind_endpoints(EndpointSettings(True, "127.0.0.1", {"blob": 0, "queue": 0, "table": 0}))
    try:
        announce(bound, endpoint_settings({}), environ)
        expected = connection_string(endpoint_urls(bound)) if shown else None
    finally:
        for sock in bound.values():
            sock.close()
    assert os.environ.get("AzureWebJobsStorage") == expected
    assert os.environ.get("OVERCAST_APP_STORE") == store
    if store is not None:
        assert "pw" not in capsys.readouterr().out
        assert resolve_connection(None, dict(os.environ)).value == store


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
