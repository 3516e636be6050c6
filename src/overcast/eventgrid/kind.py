"""The ``eventGrid`` kind: the ``eventGridTrigger`` trigger (webhook and local topics) and the ``eventGrid`` output."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.errors import InputError
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, ManualInput, Need

WAKE_NAME = "eventgrid"  # the delivery listener's wake-up (overcast.triggers.wakeup)


def own_hosts() -> list[str]:
    """``host:port`` forms under which this instance is reached (WEBSITE_HOSTNAME is set at start)."""
    hostname = os.environ.get("WEBSITE_HOSTNAME", "")
    return [hostname] if hostname else []


class EventGridKind(BindingKind):
    trigger = output = listened = True
    trigger_needs: frozenset[Need] = frozenset({"eventgrid"})
    binding_needs: frozenset[Need] = frozenset({"eventgrid", "binding_io"})
    listener = None  # the app-wide Event Grid service (overcast.triggers.manager.APP_LISTENERS) delivers

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        if binding.is_trigger or endpoint_setting(binding):
            return []
        return [f"Event Grid output '{binding.name}' needs topic_endpoint_uri (topicEndpointUri): the name of the app "
                f"setting with the topic's endpoint (unset, it names a local topic), or connection (the prefix of "
                f"<connection>__topicEndpointUri)."]

    def manual_input(self, text: str) -> ManualInput:
        from overcast.eventgrid.events import parse_events, trigger_value

        events = parse_events(text or "{}", "The input")
        if len(events) != 1:
            raise InputError("The input must be one event (a JSON object).")
        trigger, metadata, _ = trigger_value(events[0])
        return trigger, metadata

    async def manual_invocation(self, spec: FunctionSpec, text: str, values: BindingValues | None) -> Invocation:
        from overcast.eventgrid.events import parse_events, trigger_reason, trigger_value

        events = parse_events(text or "{}", "The input")
        if len(events) != 1:
            raise InputError("The input must be one event (a JSON object).")
        trigger, metadata, binding_data = trigger_value(events[0])
        return Invocation(function=spec, trigger=trigger, trigger_metadata=metadata, binding_data=binding_data,
                          reason=trigger_reason(time.time()))

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        from overcast.eventgrid.events import complete_event
        from overcast.eventgrid.publish import destination, output_events, post_events

        events = output_events(datum, binding.name)
        if not events:
            return
        setting = endpoint_setting(binding)
        key_setting = binding.get("topicKeySetting")
        where = destination(setting, str(key_setting) if key_setting else None, os.environ, own_hosts())
        if where.url is not None:
            await asyncio.to_thread(post_events, where.url, where.key, events)
            return
        topic = where.topic or setting.lower()
        now = time.time()
        texts = [json.dumps(complete_event(dict(e), topic_path(topic), now)) for e in events]
        store = values.store_for("eventgrid", binding)
        await values.call(store.publish, topic, texts)
        values.wake(WAKE_NAME)


def endpoint_setting(binding: BindingSpec) -> str:
    """The app setting naming the topic endpoint: ``topicEndpointUri``, or ``<connection>__topicEndpointUri`` (the
    extension's identity-based form, where ``connection`` is a settings prefix)."""
    named = binding.get("topicEndpointUri")
    if named:
        return str(named)
    connection = binding.get("connection")
    return f"{connection}__topicEndpointUri" if connection else ""


def topic_path(topic: str) -> str:
    """The ``topic`` an event of a local topic carries (shaped like an Azure resource id)."""
    return (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/overcast/providers/"
            f"Microsoft.EventGrid/topics/{topic}")
