"""The ``serviceBus`` kind: the ``serviceBusTrigger`` trigger (queues, subscriptions, their dead-letter queues) and
the ``serviceBus`` output binding (a queue, or a topic routed through its subscriptions' rules)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from overcast.app.spec import BindingSpec
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, ManualInput, Need

_ensured: set[tuple[int, str]] = set()


def _send(store: Any, path: str, kind: str, messages: Sequence[Any]) -> list[int]:
    # The entity is created once (as a queue or a topic, by the binding's kind); later sends skip that read.
    if (id(store), path) not in _ensured:
        store.ensure(path, kind)
        _ensured.add((id(store), path))
    return list(store.send(path, messages))


class ServiceBusKind(BindingKind):
    trigger = output = listened = connection = True
    service = "servicebus"
    trigger_needs: frozenset[Need] = frozenset({"servicebus"})
    binding_needs: frozenset[Need] = frozenset({"servicebus", "binding_io"})
    listener = "overcast.triggers.servicebus_listener:servicebus_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        from overcast.bindings.servicebus_config import load_entities

        # A bad entity file stops the start (ConfigError, exit 3), whichever binding finds it first.
        load_entities(Path(environ.get("AzureWebJobsScriptRoot") or os.getcwd()), environ)
        queue, topic = binding.get("queueName"), binding.get("topicName")
        if binding.is_trigger:
            if not queue and not (topic and binding.get("subscriptionName")):
                return [f"The Service Bus trigger '{binding.name}' needs a queueName, or a topicName and a "
                        f"subscriptionName."]
        elif not queue and not topic:
            return [f"The Service Bus output '{binding.name}' needs a queueName or a topicName."]
        return []

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        from overcast.bindings.servicebus import outgoing

        store = values.store_for("servicebus", binding)
        queue = values.resolve(invocation, binding, "queueName")
        path = (queue or values.resolve(invocation, binding, "topicName") or "").lower()
        messages = outgoing(datum)
        if messages:
            await values.call(_send, store, path, "queue" if queue else "topic", messages)
            values.wake(path)

    def manual_input(self, text: str) -> ManualInput:
        """A message that was never sent: no lock token, delivery count 0 (as the host builds one from a string)."""
        from azure.functions.meta import Datum

        return Datum(text, "string"), {"DeliveryCount": Datum("0", "json"), "UserProperties": Datum("{}", "json"),
                                       "ApplicationProperties": Datum("{}", "json")}
