"""The app-wide Event Grid listener factory (``overcast.triggers.manager.APP_LISTENERS``): builds the instance's
:class:`~overcast.eventgrid.delivery.EventGridService` and mounts its webhooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec
from overcast.backends.blob_events import BLOB_EVENTS_KEY, STORAGE_TOPIC
from overcast.eventgrid.config import check_functions, load_config
from overcast.eventgrid.delivery import EventGridService, blob_subscription, is_event_grid_blob_trigger
from overcast.eventgrid.kind import WAKE_NAME
from overcast.eventgrid.webhook import webhooks

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

log = logging.getLogger("overcast.host.triggers.eventgrid")


def eventgrid_app_listeners(specs: list[FunctionSpec], context: ListenerContext) -> list[Any]:
    """The app's Event Grid service when anything of the app uses Event Grid (triggers, blob triggers with
    ``source="EventGrid"``, outputs, or an ``eventgrid.json``); it also mounts the webhooks.

    Routing and the storage account's blob events follow the whole app (``context.app_functions``), so every
    instance routes an event to every subscription, whichever of the app's functions it runs itself; deliveries
    are taken only by an instance that can make them (a webhook, or a function it runs)."""
    app = context.app_functions or specs
    config = load_config(context.settings.script_root)
    uses = [s for s in app if any(b.type.lower() in ("eventgridtrigger", "eventgrid") for b in s.bindings)]
    blob_triggers = [s for s in app if is_event_grid_blob_trigger(s)]
    if not (uses or blob_triggers or config.topics):
        return []
    for warning in check_functions(config, {s.name: s.trigger.type for s in app}):
        log.warning("%s", warning)
    for spec in blob_triggers:
        config.add(blob_subscription(spec))
    stores = context.stores.connection
    store = stores.eventgrid
    if config.subscriptions(STORAGE_TOPIC):
        stores.state.put(BLOB_EVENTS_KEY, "on")
    else:
        stores.state.delete(BLOB_EVENTS_KEY)
    service = EventGridService(config, {s.name: s for s in specs}, context, store)
    # Another instance's publish (or routing) wakes this one's delivery loop (the in-process ones already do).
    context.stores.watch(store, lambda _topic: WAKE_NAME)
    context.webhooks.update(webhooks(service, context.settings.body_limit))
    return [service]
