"""The ``eventHub`` kind: the ``eventHubTrigger`` trigger (a processor per function, partitions shared between
instances) and the ``eventHub`` output binding, on the connection's Event Hubs store (§6.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.kinds import BindingKind, BindingValues, Need

if TYPE_CHECKING:
    from overcast.invoke.model import Invocation

CARDINALITIES = ("one", "many")


def hub_name(binding: BindingSpec) -> str:
    """``eventHubName`` (``path`` in old function.json files)."""
    return str(binding.get("eventHubName") or binding.get("path") or "")


def _name_problems(binding: BindingSpec, hub: str) -> list[str]:
    """A trigger's hub and consumer group names, checked as the store checks them (before any store opens)."""
    from overcast.backends.eventhubs_store import DEFAULT_CONSUMER_GROUP, check_group, hub_key
    from overcast.errors import StoreError

    problems = []
    for check, value in ((hub_key, hub), (check_group, str(binding.get("consumerGroup") or DEFAULT_CONSUMER_GROUP))):
        if value:
            try:
                check(value)
            except StoreError as exc:
                problems.append(f"The trigger '{binding.name}': {exc}")
    return problems


class EventHubKind(BindingKind):
    trigger = output = listened = connection = True
    service = "eventhubs"
    trigger_needs: frozenset[Need] = frozenset({"eventhubs"})
    binding_needs: frozenset[Need] = frozenset({"eventhubs", "binding_io"})
    listener = "overcast.triggers.eventhubs:eventhub_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        problems = []
        name = hub_name(binding)
        if not name:
            problems.append(f"The binding '{binding.name}' ({binding.type}) needs 'eventHubName', the event hub's "
                            "name.")
        if binding.is_trigger:
            cardinality = str(binding.get("cardinality") or "one").lower()
            if cardinality not in CARDINALITIES:
                problems.append(f"The binding '{binding.name}' has cardinality {binding.get('cardinality')!r}; use "
                                "'one' or 'many'.")
            if "{" in name:
                problems.append(f"The trigger '{binding.name}' names its event hub with an expression ({name!r}); a "
                                "trigger's event hub must be a name or an %AppSetting%.")
                return problems
            problems += _name_problems(binding, name)
        return problems

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        from overcast.backends.eventhubs_store import EventData
        from overcast.bindings.eventhub import output_bodies, wakeup_name
        from overcast.bindings.eventhub_hubs import hub_directory

        bodies = output_bodies(datum)
        if not bodies:
            return
        hub = values.resolve(invocation, binding, "eventHubName") or values.resolve(invocation, binding, "path") or ""
        directory = hub_directory(values.store_for("eventhubs", binding))

        def send() -> list[Any]:
            directory.ensure(hub)
            # One send: as the extension's collector, the events of one invocation without a key go to one partition.
            return directory.store.send(hub, [EventData(body) for body in bodies])

        sent = await values.call(send)
        for partition in {event.partition for event in sent}:
            values.wake(wakeup_name(hub, partition))

    async def manual_invocation(self, spec: FunctionSpec, text: str, values: BindingValues | None) -> Invocation:
        """As the extension's ``ConvertFromString``: one new event with the text as its body, never stored."""
        from datetime import datetime, timezone

        from overcast.backends.eventhubs_store import StoredEvent
        from overcast.bindings.eventhub import PartitionContext, batch_datum, single_datum
        from overcast.invoke.model import Invocation

        event = StoredEvent("", 0, "0", datetime.now(timezone.utc), text.encode("utf-8"), {}, None)
        context = PartitionContext("", hub_name(spec.trigger), str(spec.trigger.get("consumerGroup") or "$Default"),
                                   "")
        many = str(spec.trigger.get("cardinality") or "one").lower() == "many"
        if many:
            datum, metadata = batch_datum([event], context, False)
        else:
            datum, metadata = single_datum(event, context, False)
        return Invocation(function=spec, trigger=datum, trigger_metadata=metadata,
                          reason="This function was programmatically called via the host APIs.")
