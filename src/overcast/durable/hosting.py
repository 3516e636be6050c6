"""How an instance process hosts Durable Functions: the engine on its connection's durable store, the HTTP API on
the public port and the durable client binding's value. Built by the composition root (``overcast.host``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from overcast.app.index import AppIndex
from overcast.app.spec import BindingSpec
from overcast.backends.pool import BackendPool, ConnectionStores
from overcast.config.settings import Settings
from overcast.durable.api.client_binding import SYSTEM_KEY_NAME, client_binding_json, new_rpc_secret, rpc_base_url
from overcast.durable.api.http_api import DurableHttpApi
from overcast.durable.core.model import task_hub_problem
from overcast.durable.engine import IO, DurableEngine
from overcast.durable.provider import provider_connection
from overcast.durable.registry import DurableFunctions
from overcast.errors import ConfigError
from overcast.invoke.model import Invocation, Result

T = TypeVar("T")


class SystemKeys(Protocol):
    def ensure_system_key(self, name: str) -> str: ...


class DurableHosting:
    """The durable parts of one instance, built by the composition root in the order they need each other: this
    object first (the hub and the channel secret: the client binding's value needs them before the dispatcher is
    built), then the engine (which invokes through the dispatcher), then its HTTP API.

    ``rpc_secret``: the channel secret shared by every instance of this ``overcast start`` (one of its own when
    None, for an instance that serves alone). Raises ConfigError for a hub name the extension would refuse.
    """

    def __init__(self, settings: Settings, keys: SystemKeys, port: int, rpc_secret: str | None = None) -> None:
        self.settings = settings
        self.hub = durable_hub_name(settings)
        self.provider = provider_connection(settings, os.environ)  # a bad storageProvider stops the start
        self.secret = rpc_secret or new_rpc_secret()
        self._keys = keys
        # The SDK calls rpcBaseUrl on loopback; a host bound to one other address is reached there instead.
        address = settings.address
        rpc_host = "127.0.0.1" if address in ("0.0.0.0", "::", "127.0.0.1", "localhost") else address
        self._rpc_base = rpc_base_url(port, self.secret, rpc_host)
        self._origin = "http://" + os.environ.get("WEBSITE_HOSTNAME", f"localhost:{port}")

    def system_key(self) -> str | None:
        return self._keys.ensure_system_key(SYSTEM_KEY_NAME) if self.settings.auth_enabled else None

    def client_value(self, binding: BindingSpec) -> str:
        """The durable client parameter's value: where the SDK finds the HTTP API, and with which key."""
        return client_binding_json(
            public_origin=self._origin, hub=str(binding.get("taskHub") or self.hub),
            connection=binding.get("connectionName"), system_key=self.system_key(), rpc_base=self._rpc_base,
        )

    def engine(
        self, index: AppIndex, invoke: Callable[[Invocation], Awaitable[Result]], io: IO, stores: ConnectionStores,
        pool: BackendPool | None = None,
    ) -> DurableEngine:
        """The durable engine on the connection's durable store (or the storageProvider's), for the task hub of
        host.json."""
        settings = self.settings
        if self.provider is not None and pool is not None:
            stores = pool.stores(*self.provider)
        owner = f"{socket.gethostname()}:{os.getpid()}"
        bulk_io = io
        # A backend whose transactions are short and local runs them on the event loop (less than a thread hop);
        # OVERCAST_DURABLE_STORE_THREAD=1 sends them to the thread pool anyway.
        if stores.backend.durable_calls_inline and not settings.knobs.durable_store_thread:
            io = _inline_io
        return DurableEngine(stores.durable, self.hub, DurableFunctions.of(index.functions), invoke, io, owner,
                             settings.knobs.durable_lease_seconds, settings.knobs.durable_payload_limit, bulk_io,
                             settings.knobs.durable_fast_timestamps)

    def http_api(self, engine: DurableEngine, index: AppIndex | None = None) -> DurableHttpApi:
        """The durable HTTP API on the public port (and the channel the SDK calls). ``index``: the app, whose every
        orchestrator and entity may be started or signalled here, also those an allow list leaves to other
        instances (the engine runs only this instance's share)."""
        functions = engine.functions if index is None else DurableFunctions.of(
            [*index.functions, *index.excluded_functions])
        return DurableHttpApi(
            engine.store, engine.hub, orchestrator_exists=lambda n: functions.orchestrator(n) is not None,
            entity_exists=lambda n: functions.entity(n) is not None, wake=engine.wake, system_key=self.system_key,
            io=engine.io, rpc_secret=self.secret, payload_limit=engine.payload_limit, bulk_io=engine.bulk_io,
        )


async def _inline_io(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def durable_hub_name(settings: Settings) -> str:
    """``extensions.durableTask.hubName`` of host.json; Core Tools' local default otherwise. ConfigError when the
    extension would refuse the name (as it does at start on Azure)."""
    hub = str(settings.host_json.section("extensions", "durableTask").get("hubname") or "TestHubName")
    if (problem := task_hub_problem(hub)) is not None:
        raise ConfigError(f"host.json extensions.durableTask.hubName: {problem}")
    return hub
