"""Builds the Service Bus listeners of an instance: the app's declared entities, then one listener per function
(a :class:`~overcast.triggers.loop.MessageLoop` over a :class:`ServiceBusSource`, or a :class:`SessionListener`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec
from overcast.backends.servicebus_store import QUEUE, SUBSCRIPTION, split_dead_letter, topic_of
from overcast.bindings.servicebus_config import load_entities
from overcast.triggers.loop import MessageLoop
from overcast.triggers.messages import LoopPolicy
from overcast.triggers.servicebus import ServiceBusMessages, ServiceBusSource, entity_path, wake_key
from overcast.triggers.servicebus_options import ServiceBusOptions, servicebus_options
from overcast.triggers.servicebus_sessions import SessionListener

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

log = logging.getLogger("overcast.host.triggers.servicebus")


def is_many(spec: FunctionSpec) -> bool:
    return str(spec.trigger.get("cardinality") or "one").lower() == "many"


def auto_complete(spec: FunctionSpec, options: ServiceBusOptions) -> bool:
    value = spec.trigger.get("autoCompleteMessages")
    if value is None:
        return options.auto_complete
    return str(value).lower() not in ("false", "0")


def servicebus_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """The listeners of the serviceBus kind: the app's declared entities first, then one per function."""
    store = context.stores.connection.servicebus
    store.declare(load_entities(context.settings.script_root))
    context.stores.watch(store, wake_key)  # another instance's send wakes the entity's listener (a topic's: its subs)
    options = servicebus_options(context.settings.host_json.section("extensions", "serviceBus"))
    listeners: list[Any] = []
    for spec in specs:
        path = entity_path(spec.trigger)
        base, dead = split_dead_letter(path)
        sessions = str(spec.trigger.get("isSessionsEnabled") or "").lower() == "true"
        entity = store.ensure(base, SUBSCRIPTION if topic_of(base) else QUEUE, requires_session=sessions)
        if sessions != entity.properties.requires_session and not dead:
            log.warning("Function '%s': '%s' %s sessions but the trigger sets isSessionsEnabled=%s; the entity's "
                        "setting wins.", spec.name, base, "requires" if entity.properties.requires_session
                        else "does not use", str(sessions).lower())
        many = is_many(spec)
        handler = ServiceBusMessages(spec, path, context.retry_for(spec), many)
        complete = auto_complete(spec, options)
        if entity.properties.requires_session and not dead:
            listeners.append(SessionListener(path, store, context.io.background, handler, context.invoke, options,
                                             context.wakeups, entity.properties.lock_duration, many, complete))
            continue
        source = ServiceBusSource(path, store, context.io.background, options, many, complete)
        calls = 1 if many else options.max_concurrent_calls
        policy = LoopPolicy(batch_size=max(1, calls - calls // 2), new_batch_threshold=calls // 2,
                            max_polling_interval=options.max_polling_interval, max_deliveries=None,
                            limit_name="MaxDeliveryCount", retry_delay=0.0,
                            renew_every=entity.properties.lock_duration / 2)
        listeners.append(MessageLoop(source, handler, context.invoke, policy, context.wakeups))
    return listeners
