"""Binding kinds in one table: what each binding type can do, where its code lives, what it needs.

A kind is named as in function.json without the ``Trigger`` suffix: the kind ``queue`` serves the ``queueTrigger``
trigger and the ``queue`` output binding. :data:`KINDS` maps each name to the ``"module:attribute"`` of its
:class:`BindingKind`, imported only when an app uses the kind (as uvicorn picks its protocol implementations), so
``import overcast`` stays light and no kind's code loads for an app that does not use it. A type the table does
not name is the :data:`GENERIC` kind: a trigger without a listener (it runs only through
``POST /admin/functions/{name}``), a binding that puts its function in error at start.

Adding a kind: write its :class:`BindingKind` subclass (its listener, if it has one, is a ``"module:function"``
taking the kind's functions and a ``ListenerContext``), then add one line to :data:`KINDS`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from overcast.app.spec import BindingSpec, FunctionSpec

if TYPE_CHECKING:
    from overcast.invoke.model import Invocation

# name -> "module:attribute" of its BindingKind (an instance or a class). One line per kind.
KINDS: dict[str, str] = {
    "http": "overcast.web.http_kind:HttpKind",
    "queue": "overcast.bindings.queue_kind:QueueKind",
    "blob": "overcast.bindings.blob_kind:BlobKind",
    "table": "overcast.bindings.table_kind:TableKind",
    "timer": "overcast.triggers.timer_kind:TimerKind",
    "warmup": "overcast.triggers.warmup:WarmupKind",
    "orchestration": "overcast.durable.kinds:OrchestrationKind",
    "activity": "overcast.durable.kinds:ActivityKind",
    "entity": "overcast.durable.kinds:EntityKind",
    "durableClient": "overcast.durable.kinds:DurableClientKind",
    "orchestrationClient": "overcast.durable.kinds:DurableClientKind",  # the extension's older name, still accepted
    "eventHub": "overcast.bindings.eventhub_kind:EventHubKind",
    "eventGrid": "overcast.eventgrid.kind:EventGridKind",
    "serviceBus": "overcast.bindings.servicebus_kind:ServiceBusKind",
    "cosmosDB": "overcast.bindings.cosmos_kind:CosmosKind",
}
TRIGGER_SUFFIX = "Trigger"

# What a kind needs opened for an instance when a loaded function uses it. The stores: "queues", "leases",
# "blobs", "tables"; "consumer" (its listener takes from queues: it gets a connection of its own when outputs
# enqueue in the same process) and "producer" (it enqueues); "binding_io" (the dispatcher loads / stores its values
# or a manual invocation reads a store); "durable" (the durable engine); "eventhubs" (the Event Hubs store);
# "eventgrid" (the Event Grid store); "servicebus" (the Service Bus store); "documents" (Cosmos DB containers).
Need = Literal["queues", "leases", "blobs", "tables", "consumer", "producer", "binding_io", "durable", "eventhubs",
               "eventgrid", "servicebus", "documents"]
ManualInput = tuple[Any, dict[str, Any]]


class BindingValues(Protocol):
    """What a kind's ``load`` / ``store`` get from the binding I/O (:class:`overcast.bindings.io.BindingIO`)."""

    @property
    def queue_encoding(self) -> str:
        """host.json ``extensions.queues.messageEncoding``."""
        ...

    @property
    def durable_client(self) -> Callable[[BindingSpec], str] | None:
        """The durable client parameter's value for a binding (set when the app has durable functions)."""
        ...

    def resolve(self, invocation: Invocation, binding: BindingSpec, key: str) -> str | None:
        """A binding property with its ``{expressions}`` bound for this invocation (None when absent)."""
        ...

    def wake(self, name: str) -> None:
        """Wake this instance's listener of a queue at once."""
        ...

    def write_blob(self, container: str, name: str, content: bytes) -> None:
        """Write a blob (blocking) and tell this instance's blob triggers."""
        ...

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run a blocking store call on the foreground store pool."""
        ...

    def store_for(self, need: Need, binding: BindingSpec | None) -> Any:
        """The open store a binding needs (raises when the host did not open it)."""
        ...


class BindingKind:
    """A binding kind's declaration and behaviour; the defaults are those of a type Overcast does not know."""

    trigger = False  # roles: a trigger; an input binding; an output binding
    input = False
    output = False
    listened = False  # the trigger has a listener (HTTP's is the web app; durable's the engine)
    connection = False  # its 'connection' names an account of ``service`` (checked at start)
    service = "storage"  # whose connection strings: storage, servicebus, eventhubs, cosmosdb (config/connections.py)
    any_case = False  # its trigger type matches in any case (as the host's IsWarmupFunction)
    durable_client = False  # its value is the durable client's (durableClient, orchestrationClient)
    trigger_needs: frozenset[Need] = frozenset()
    binding_needs: frozenset[Need] = frozenset()
    listener: str | None = None  # "module:function"(specs, ListenerContext) -> list of listeners

    def serves(self, binding: BindingSpec) -> bool:
        """Whether this kind plays the role the binding asks of it (a trigger, an input, an output)."""
        if binding.is_trigger:
            return self.trigger
        if binding.direction == "in":
            return self.input
        if binding.direction == "out":
            return self.output
        return self.input or self.output

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        """Start-time validation of one binding of this kind: its function's errors (no store is open yet)."""
        return []

    def start_warning(self, spec: FunctionSpec) -> str | None:
        """What to log at start about a loaded function triggered by this kind."""
        if self.listened:
            return None
        return (f"Function '{spec.name}': Overcast has no listener for '{spec.trigger.type}' triggers yet; it runs "
                f"only when invoked through POST /admin/functions/{spec.name}.")

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        raise TypeError(f"binding type '{binding.type}' has no input support")

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        raise TypeError(f"binding type '{binding.type}' has no output support")

    def manual_input(self, text: str) -> ManualInput:
        """The trigger value for ``POST /admin/functions/{name}`` with ``{"input": text}``: as the host, the
        trigger binding converts the string; nothing is dequeued or read. (trigger Datum, trigger metadata)"""
        from azure.functions.meta import Datum

        return Datum(text, "string"), {}

    async def manual_invocation(self, spec: FunctionSpec, text: str, values: BindingValues | None) -> Invocation:
        """The invocation a manual call makes; raises OvercastError for an input that names nothing."""
        from overcast.invoke.model import Invocation

        trigger, metadata = self.manual_input(text)
        return Invocation(function=spec, trigger=trigger, trigger_metadata=metadata,
                          reason="This function was programmatically called via the host APIs.")


GENERIC = BindingKind()
_loaded: dict[str, BindingKind] = {}


def import_string(target: str) -> Any:
    """``"package.module:attribute"`` imported now."""
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _kind(name: str) -> BindingKind:
    kind = _loaded.get(name)
    if kind is None:
        found = import_string(KINDS[name])
        kind = _loaded[name] = found() if isinstance(found, type) else found
    return kind


def kind_of(binding_type: str) -> BindingKind:
    """The kind of a binding type (``queueTrigger`` and ``queue`` are both the kind ``queue``); GENERIC if none."""
    if binding_type in KINDS:
        return _kind(binding_type)
    if binding_type.endswith(TRIGGER_SUFFIX) and binding_type[:-len(TRIGGER_SUFFIX)] in KINDS:
        return _kind(binding_type[:-len(TRIGGER_SUFFIX)])
    lowered = binding_type.lower()
    for name in KINDS:
        if (name + TRIGGER_SUFFIX).lower() == lowered and _kind(name).any_case:
            return _kind(name)
    return GENERIC


def needs_of(bindings: Iterable[BindingSpec]) -> frozenset[Need]:
    """Everything the given bindings' kinds need opened, each in the role it plays."""
    needs: set[Need] = set()
    for binding in bindings:
        kind = kind_of(binding.type)
        if kind.serves(binding):
            needs |= kind.trigger_needs if binding.is_trigger else kind.binding_needs
    return frozenset(needs)


def is_durable_client(binding: BindingSpec) -> bool:
    return not binding.is_trigger and kind_of(binding.type).durable_client


def json_datum(payload: Any) -> ManualInput:
    from azure.functions.meta import Datum

    return Datum(json.dumps(payload), "json"), {}
