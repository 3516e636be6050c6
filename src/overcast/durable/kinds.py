"""The durable extension's kinds: its three triggers (run by the durable engine) and its client binding."""

from __future__ import annotations

from typing import Any

from overcast.app.spec import BindingSpec
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, Need


class _DurableTrigger(BindingKind):
    trigger = listened = True  # the durable engine is their listener
    trigger_needs: frozenset[Need] = frozenset({"durable"})


class OrchestrationKind(_DurableTrigger):
    pass


class ActivityKind(_DurableTrigger):
    pass


class EntityKind(_DurableTrigger):
    pass


class DurableClientKind(BindingKind):
    """``durableClient`` (and ``orchestrationClient``): the value is the client's JSON, made by durable hosting."""

    input = durable_client = True
    binding_needs: frozenset[Need] = frozenset({"binding_io", "durable"})

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        client = values.durable_client
        if client is None:
            return await super().load(values, invocation, binding)
        from azure.functions.meta import Datum

        return Datum(client(binding), "string")
