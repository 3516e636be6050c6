"""How an instance process hosts Durable Functions: the engine on the embedded store, the HTTP API on the public
port and the durable client binding's value. Called by the composition root (``overcast.host``)."""

from __future__ import annotations

import os
import socket
from typing import Any

from overcast.app.index import AppIndex
from overcast.backends.pool import ConnectionStores
from overcast.config.settings import Settings
from overcast.durable.api.client_binding import SYSTEM_KEY_NAME, client_binding_json, new_rpc_secret, rpc_base_url
from overcast.durable.api.http_api import DurableHttpApi
from overcast.durable.core.model import task_hub_problem
from overcast.durable.engine import DurableEngine
from overcast.durable.registry import DurableFunctions
from overcast.errors import ConfigError


def durable_engine(
    settings: Settings, index: AppIndex, dispatcher: Any, io: Any, stores: ConnectionStores
) -> DurableEngine:
    """The durable engine on the connection's durable store, for the task hub of host.json."""
    hub = durable_hub_name(settings)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    bulk_io = io
    # A backend whose transactions are short and local runs them on the event loop (less than a thread hop);
    # OVERCAST_DURABLE_STORE_THREAD=1 sends them to the thread pool anyway.
    if stores.backend.durable_calls_inline and not settings.knobs.durable_store_thread:
        io = _inline_io
    return DurableEngine(stores.durable, hub, DurableFunctions.of(index.functions),
                         dispatcher.invoke, io, owner, settings.knobs.durable_lease_seconds,
                         settings.knobs.durable_payload_limit, bulk_io,
                         settings.knobs.durable_fast_timestamps)


async def _inline_io(fn: Any, *args: Any) -> Any:
    return fn(*args)


def attach_durable(
    settings: Settings, app: Any, keys: Any, engine: Any, dispatcher: Any, port: int, rpc_secret: str | None = None
) -> None:
    """The durable HTTP API on the public port, and the client binding value that points the SDK at it.

    ``rpc_secret``: the channel secret shared by every instance of this ``overcast start`` (one of its own when
    None, for an instance that serves alone).
    """
    functions = engine.functions
    secret = rpc_secret or new_rpc_secret()

    def system_key() -> str | None:
        return keys.ensure_system_key(SYSTEM_KEY_NAME) if settings.auth_enabled else None

    app.attach_durable(DurableHttpApi(
        engine.store, engine.hub, orchestrator_exists=lambda n: functions.orchestrator(n) is not None,
        entity_exists=lambda n: functions.entity(n) is not None, wake=engine.wake, system_key=system_key,
        io=engine.io, rpc_secret=secret, payload_limit=engine.payload_limit, bulk_io=engine.bulk_io,
    ))
    # The SDK calls rpcBaseUrl on loopback; a host bound to one other address is reached there instead.
    rpc_host = "127.0.0.1" if settings.address in ("0.0.0.0", "::", "127.0.0.1", "localhost") else settings.address
    rpc_base = rpc_base_url(port, secret, rpc_host)
    origin = "http://" + os.environ.get("WEBSITE_HOSTNAME", f"localhost:{port}")

    def client_value(binding: Any) -> str:
        return client_binding_json(
            public_origin=origin, hub=str(binding.get("taskHub") or engine.hub),
            connection=binding.get("connectionName"), system_key=system_key(), rpc_base=rpc_base,
        )

    if dispatcher.binding_io is not None:
        dispatcher.binding_io.durable_client = client_value


def durable_hub_name(settings: Settings) -> str:
    """``extensions.durableTask.hubName`` of host.json; Core Tools' local default otherwise. ConfigError when the
    extension would refuse the name (as it does at start on Azure)."""
    hub = str(settings.host_json.section("extensions", "durableTask").get("hubname") or "TestHubName")
    if (problem := task_hub_problem(hub)) is not None:
        raise ConfigError(f"host.json extensions.durableTask.hubName: {problem}")
    return hub
