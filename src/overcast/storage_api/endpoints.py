"""Where the Storage endpoints listen, and binding their sockets once (before ``overcast start`` forks instances).

Settings (environment or local.settings.json ``Values``; docs/configuration.md):

- ``OVERCAST_STORAGE_ENDPOINTS``: ``on`` (default) / ``off``; the endpoints serve the app's store (embedded, or the
  PostgreSQL database ``AzureWebJobsStorage`` names), never a real Azure Storage account.
- ``OVERCAST_STORAGE_ADDRESS``: the address to listen on (default ``127.0.0.1``: loopback only unless asked).
- ``OVERCAST_BLOB_PORT`` / ``OVERCAST_QUEUE_PORT`` / ``OVERCAST_TABLE_PORT``: each service's port (default the
  development-storage ports 10000 / 10001 / 10002; ``0`` picks a free one, printed at start).

A port that is taken (a running Azurite, another ``overcast start``) is one line on the console and the start goes
on without that endpoint: the bindings work on the app's store either way.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from overcast.config.knobs import switch
from overcast.errors import ConfigError
from overcast.storage_api.services import SERVICES


@dataclass(frozen=True)
class EndpointSettings:
    enabled: bool
    address: str
    ports: dict[str, int]  # service name -> port (0: any free port)


def endpoint_settings(environ: Mapping[str, str]) -> EndpointSettings:
    """The endpoints' settings (raises ConfigError naming the variable for a bad value)."""
    ports = {}
    for name, service in SERVICES.items():
        raw = environ.get(service.port_setting, "").strip()
        if not raw:
            ports[name] = service.default_port
            continue
        if not raw.isdigit() or int(raw) > 65535:
            raise ConfigError(f"{service.port_setting} must be a port number (0-65535), got {raw!r}.")
        ports[name] = int(raw)
    address = environ.get("OVERCAST_STORAGE_ADDRESS", "").strip() or "127.0.0.1"
    return EndpointSettings(switch(environ, "OVERCAST_STORAGE_ENDPOINTS", True), address, ports)


def store_endpoint_settings(environ: Mapping[str, str]) -> EndpointSettings:
    """The settings, switched off when ``AzureWebJobsStorage`` names something Overcast does not store itself (a
    real Azure Storage account): the endpoints serve the app's store, embedded or a server backend's."""
    from overcast.backends.registry import available_kinds
    from overcast.config.connections import resolve_connection

    settings = endpoint_settings(environ)
    if resolve_connection(None, environ).kind not in available_kinds():
        return EndpointSettings(False, settings.address, settings.ports)
    return settings


def bind_endpoints(settings: EndpointSettings, say: bool = True) -> dict[str, socket.socket]:
    """A listening socket per service whose port is free; one line on stderr for each that is not."""
    bound: dict[str, socket.socket] = {}
    if not settings.enabled:
        return bound
    for name, port in settings.ports.items():
        try:
            infos = socket.getaddrinfo(settings.address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, kind, proto, _, sockaddr = infos[0]
            sock = socket.socket(family, kind, proto)
        except (OSError, UnicodeError) as exc:
            if say:
                print(f"Storage endpoints: cannot use address '{settings.address}' ({exc}); serving none. Set "
                      "OVERCAST_STORAGE_ADDRESS to a local address.", file=sys.stderr)
            return bound
        try:
            if sys.platform != "win32":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(512)
        except OSError as exc:
            sock.close()
            if say:
                why = "is already in use (Azurite?)" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc}"
                print(f"Storage endpoints: the {name} port {settings.address}:{port} {why}; the {name} API is not "
                      f"served (bindings still use the embedded store). Set {SERVICES[name].port_setting} to move it.",
                      file=sys.stderr, flush=True)
            continue
        sock.set_inheritable(True)
        sock.setblocking(False)
        bound[name] = sock
    return bound


def endpoint_urls(sockets: Mapping[str, socket.socket], address: str = "127.0.0.1") -> dict[str, str]:
    """service -> ``http://<address>:<port>/devstoreaccount1`` for the bound sockets."""
    from overcast.storage_api.auth import DEV_ACCOUNT

    host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
    host = f"[{host}]" if ":" in host else host
    return {name: f"http://{host}:{sock.getsockname()[1]}/{DEV_ACCOUNT}" for name, sock in sockets.items()}


def announce(sockets: Mapping[str, socket.socket], settings: EndpointSettings, environ: Mapping[str, str]) -> None:
    """One line naming the endpoints, and the ``AzureWebJobsStorage`` app code reads for them, so SDK code and
    SDK-type bindings reach the app's store. Called before the instances fork: they inherit it.

    - No setting: as ``func start`` users write ``UseDevelopmentStorage=true`` in local.settings.json.
    - A server backend's URL (``postgresql://``): an Azure SDK cannot use it, so app code reads the endpoints'
      connection string while Overcast keeps the URL in ``OVERCAST_APP_STORE`` (``config.connections``) and still
      resolves ``AzureWebJobsStorage`` to it; the endpoints serve that database.
    """
    from overcast.config.connections import APP_STORE_SETTING, DEFAULT_CONNECTION, EMBEDDED, resolve_connection

    if not sockets:
        return
    urls = endpoint_urls(sockets, settings.address)
    print("Storage endpoints (account devstoreaccount1): "
          + ", ".join(f"{name} {url}" for name, url in urls.items()), flush=True)
    defaults = len(sockets) == len(SERVICES) and all(
        sock.getsockname()[1] == SERVICES[name].default_port for name, sock in sockets.items())
    presented = "UseDevelopmentStorage=true" if defaults else connection_string(urls)
    if DEFAULT_CONNECTION in environ or any(k.startswith(f"{DEFAULT_CONNECTION}__") for k in environ):
        store = resolve_connection(None, environ)
        if store.kind == EMBEDDED or not store.value:
            return
        os.environ[APP_STORE_SETTING] = store.value
        print(f"{DEFAULT_CONNECTION} names the app's {store.kind} store: the app's own code reads it as these "
              f"endpoints' connection string (served from that store).", flush=True)
    os.environ[DEFAULT_CONNECTION] = presented


def connection_string(urls: Mapping[str, str]) -> str:
    """The Azurite-style connection string for these endpoints (what tools and SDKs can be given)."""
    from overcast.storage_api.auth import DEV_ACCOUNT, DEV_KEY

    parts = [f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY}"]
    parts += [f"{name.capitalize()}Endpoint={url}" for name, url in urls.items()]
    return ";".join(parts) + ";"
