"""Input and output bindings backed by the stores: what the dispatcher loads before a call and writes after it.

Each binding's kind (:mod:`overcast.kinds`) loads or writes it through this object; HTTP outputs are the web
layer's business and never come here.
Binding properties that are ``{expression}`` templates are bound per invocation against its binding data (§7); an
expression without a value fails that invocation with the host's message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from overcast.app.spec import BindingSpec
from overcast.backends.base import BlobProperties, BlobStore, QueueStore, TableStore
from overcast.backends.pool import ConnectionStores
from overcast.bindings.expressions import BindingTemplate, binding_data_from_json_body, merge_binding_data
from overcast.errors import InputError, StoreMissing
from overcast.invoke.model import Invocation
from overcast.kinds import Need, kind_of

if TYPE_CHECKING:
    from overcast.backends.pool import ConnectionStores

log = logging.getLogger("overcast.host.bindings")
ON_DEMAND = frozenset({"eventgrid", "servicebus", "documents"})  # stores opened when a binding first needs them

class Waker(Protocol):
    """Wakes the listener of a queue at once (the triggers' in-process notifications)."""

    def wake(self, name: str) -> None: ...


def http_binding_data(request: Any) -> dict[str, Any]:
    """Binding data of an HTTP trigger (§7): JSON body properties < query parameters < route parameters."""
    data: dict[str, Any] = {}
    body = request.get_body() if hasattr(request, "get_body") else b""
    if body:
        try:
            data = binding_data_from_json_body(body.decode("utf-8"), "The request body")
        except (UnicodeDecodeError, InputError):
            # As the host, which ignores a body its JSON reader rejects: the function still gets the request.
            data = {}
    query = {k: v for k, v in dict(getattr(request, "params", {}) or {}).items() if k.lower() != "code"}
    data = merge_binding_data(data, query)
    data = merge_binding_data(data, dict(getattr(request, "route_params", {}) or {}))
    data["Query"] = dict(query)
    data["Headers"] = dict(getattr(request, "headers", {}) or {})
    return data


@dataclass
class BindingIO:
    queues: QueueStore | None
    wakeups: Waker
    queue_encoding: str
    io: Callable[..., Awaitable[Any]]
    blobs: BlobStore | None = None
    tables: TableStore | None = None
    # Called (blocking, on the store pool) after a blob output is written: the blob trigger's notification.
    on_blob_written: Callable[[BlobProperties], None] | None = None
    # The durable client parameter's value for a binding (set when the app has durable functions).
    durable_client: Callable[[BindingSpec], str] | None = None
    # The connection's stores, for the stores a kind opens on first use (Event Hubs, Service Bus).
    connection: ConnectionStores | None = None
    _templates: dict[str, BindingTemplate] = field(default_factory=dict)

    def _data(self, invocation: Invocation) -> dict[str, Any]:
        if not invocation.binding_data and invocation.direct_value is not None:
            invocation.binding_data = http_binding_data(invocation.direct_value)
        return invocation.binding_data

    def resolve(self, invocation: Invocation, binding: BindingSpec, key: str) -> str | None:
        """A binding property with its ``{expressions}`` bound for this invocation (None when absent)."""
        raw = binding.get(key)
        if raw is None:
            return None
        text = str(raw)
        if "{" not in text:
            return text
        template = self._templates.get(text)
        if template is None:
            template = self._templates[text] = BindingTemplate.parse(text)
        return template.bind(self._data(invocation), method_name=invocation.function.name)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.io(fn, *args)

    def wake(self, name: str) -> None:
        self.wakeups.wake(name)

    def store_for(self, need: Need, binding: BindingSpec | None) -> Any:
        store: Any = {"queues": self.queues, "blobs": self.blobs, "tables": self.tables}.get(need)
        if need == "eventhubs" and self.connection is not None:
            store = self.connection.eventhubs
        if store is None and self.connection is not None and need in ON_DEMAND:
            store = getattr(self.connection, need)
        if store is None:
            what = f"binding '{binding.name}' ({binding.type})" if binding is not None else "a blob binding"
            raise StoreMissing(f"No store is open for {what}.")
        return store

    async def load(self, invocation: Invocation, binding: BindingSpec) -> Any:
        """An input binding's value, by its kind (:mod:`overcast.kinds`)."""
        return await kind_of(binding.type).load(self, invocation, binding)

    async def store(self, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        """Write an output binding's value, by its kind."""
        await kind_of(binding.type).store(self, invocation, binding, datum)

    def write_blob(self, container: str, name: str, content: bytes) -> None:
        blobs = self.store_for("blobs", None)
        props = blobs.put(container, name, content)
        if self.on_blob_written is not None:
            try:
                self.on_blob_written(props)
            except Exception:
                # The blob is written; the scan notices it instead.
                log.exception("Notifying blob triggers of '%s/%s' failed; the next scan picks it up.", container, name)
