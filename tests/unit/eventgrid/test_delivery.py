"""The delivery loop's decisions, in process: memory stores, a fake clock, a recorded invoke (no function runs).

Each test publishes to a local topic, routes, claims and settles with :class:`EventGridService`, then looks at the
store: completed, rescheduled on the schedule, dead-lettered (with its blob), expired, or dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.pool import ConnectionStores
from overcast.backends.registry import BackendTarget, open_backend
from overcast.eventgrid import events as ev
from overcast.eventgrid.config import EventGridConfig, Subscription
from overcast.eventgrid.delivery import EventGridService, blob_subscription
from overcast.invoke.model import Invocation, Result

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def spec(name: str, trigger: str = "eventGridTrigger", **raw: Any) -> FunctionSpec:
    binding = BindingSpec("event", trigger, "in", None, {"type": trigger, "name": "event", **raw})
    return FunctionSpec(name=name, func=lambda event: None, bindings=(binding,), directory=".", script_file="x.py")


class Harness:
    def __init__(self, subscriptions: list[Subscription], functions: list[FunctionSpec],
                 outcome: Callable[[Invocation], bool]) -> None:
        self.clock = Clock()
        self.connection = ConnectionStores(open_backend("memory", BackendTarget(Path("."), "", self.clock)))
        self.store = self.connection.eventgrid
        self.invoked: list[Invocation] = []

        async def invoke(invocation: Invocation) -> Result:
            self.invoked.append(invocation)
            ok = outcome(invocation)
            return Result(invocation.invocation_id, ok, error=None if ok else RuntimeError("boom"))

        async def io(fn: Callable[..., Any], *args: Any) -> Any:
            return fn(*args)

        io.background = io  # type: ignore[attr-defined]
        knobs = SimpleNamespace(eventgrid_retry_schedule=None, eventgrid_poll_seconds=1.0)
        context = SimpleNamespace(invoke=invoke, io=io, settings=SimpleNamespace(knobs=knobs),
                                  stores=SimpleNamespace(blobs=self.connection.blobs, connection=self.connection),
                                  wakeups=SimpleNamespace(wake=lambda name: None))
        config = EventGridConfig()
        for subscription in subscriptions:
            config.add(subscription)
        self.service = EventGridService(config, {f.name: f for f in functions}, context,  # type: ignore[arg-type]
                                        self.store, self.clock)

    def publish(self, topic: str, *events: dict[str, Any]) -> None:
        self.store.publish(topic, [json.dumps(e) for e in events])
        self.store.fan_out(self.service.route, 100)

    def settle_due(self) -> int:
        claimed = self.store.claim(32, 300)
        asyncio.run(self._settle_all(claimed))
        return len(claimed)

    async def _settle_all(self, claimed: list[Any]) -> None:
        for delivery in claimed:
            await self.service._settle(delivery)


EVENT = {"id": "e1", "subject": "/orders/1", "eventType": "Created", "data": {"n": 1}}


def test_routing_follows_each_subscriptions_filter() -> None:
    h = Harness([Subscription("all", "orders", function="f"),
                 Subscription("vip", "orders", function="f", filter=ev.EventFilter(subject_ends_with="-vip")),
                 Subscription("other", "invoices", function="f")], [spec("f")], lambda i: True)
    h.publish("orders", EVENT, {**EVENT, "id": "e2", "subject": "/orders/2-vip"})
    assert sorted((d.subscription, json.loads(d.event)["id"]) for d in h.store.pending()) == [
        ("all", "e1"), ("all", "e2"), ("vip", "e2")]
    assert {d.expires for d in h.store.pending()} == {START + 1440 * 60}


def test_a_successful_run_completes_the_delivery() -> None:
    h = Harness([Subscription("all", "orders", function="f")], [spec("f")], lambda i: True)
    h.publish("orders", EVENT)
    assert h.settle_due() == 1
    [invocation] = h.invoked
    assert json.loads(invocation.trigger.value) == EVENT
    assert json.loads(invocation.trigger_metadata["data"].value) == {"n": 1}
    assert invocation.reason.startswith("EventGrid trigger fired at 2023-11-14T22:13:20")
    assert h.store.pending() == [] and h.store.dead_letters() == []


def test_failures_wait_on_event_grids_schedule_then_dead_letter_to_the_container() -> None:
    sub = Subscription("audit", "orders", function="f", max_attempts=3, dead_letter_container="dead")
    h = Harness([sub], [spec("f")], lambda i: False)
    h.publish("orders", EVENT)
    for attempt, wait in ((1, 10.0), (2, 30.0)):
        assert h.settle_due() == 1
        [waiting] = h.store.pending()
        assert (waiting.attempts, waiting.due) == (attempt, h.clock.now + wait)
        assert waiting.last_error == "RuntimeError: boom"
        h.clock.now += wait - 1
        assert h.settle_due() == 0  # not due yet
        h.clock.now += 1
    assert h.settle_due() == 1  # the third and last attempt
    assert h.store.pending() == []
    [dead] = h.store.dead_letters()
    assert (dead.reason, dead.attempts, dead.last_error) == ("MaxDeliveryAttemptsExceeded", 3, "RuntimeError: boom")
    [blob] = h.connection.blobs.list("dead")
    assert blob.name.startswith("AUDIT/2023/11/14/22/") and blob.content_type == "application/json"
    found = h.connection.blobs.get("dead", blob.name)
    assert found is not None
    [record] = json.loads(found[0])
    assert record["id"] == "e1" and record["deliveryAttempts"] == 3 and record["lastDeliveryOutcome"] == "GenericError"
    assert len(h.invoked) == 3


def test_an_expired_event_is_dead_lettered_without_running() -> None:
    h = Harness([Subscription("short", "orders", function="f", ttl_minutes=1)], [spec("f")], lambda i: False)
    h.publish("orders", EVENT)
    h.settle_due()
    h.clock.now += 61
    h.settle_due()
    [dead] = h.store.dead_letters()
    assert dead.reason == "TimeToLiveExceeded" and len(h.invoked) == 1


def test_a_function_that_is_not_loaded_is_retried() -> None:
    h = Harness([Subscription("s", "orders", function="gone")], [], lambda i: True)
    h.publish("orders", EVENT)
    h.settle_due()
    [waiting] = h.store.pending()
    assert "is not loaded" in waiting.last_error


def test_a_subscription_removed_from_the_config_drops_its_deliveries() -> None:
    h = Harness([Subscription("s", "orders", function="f")], [spec("f")], lambda i: True)
    h.publish("orders", EVENT)
    h.service.config = EventGridConfig()
    h.settle_due()
    assert h.store.pending() == [] and h.invoked == []


@pytest.mark.parametrize(("blob_name", "runs"), [("a.txt", 1), ("missing.txt", 0)])
def test_blob_created_events_run_event_grid_blob_triggers(blob_name: str, runs: int) -> None:
    trigger = spec("on_blob", "blobTrigger", path="uploads/{name}", source="EventGrid")
    h = Harness([blob_subscription(trigger)], [trigger], lambda i: True)
    h.connection.blobs.put("uploads", "a.txt", b"hello")
    h.publish("storage", {"id": "b", "eventType": "Microsoft.Storage.BlobCreated",
                          "subject": f"/blobServices/default/containers/uploads/blobs/{blob_name}", "data": {}},
              {"id": "c", "eventType": "Microsoft.Storage.BlobCreated",  # another container: not routed
               "subject": "/blobServices/default/containers/other/blobs/a.txt", "data": {}})
    assert h.settle_due() == 1
    assert len(h.invoked) == runs and h.store.pending() == []
    if runs:
        assert h.invoked[0].reason == "New blob detected(EventGrid): uploads/a.txt"
