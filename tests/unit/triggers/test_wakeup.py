"""Wake-ups by name, and how a store's reports of other instances' writes reach them (``Stores.watch``): each kind's
report names map to the key its listener waits on; EVERYTHING wakes every listener."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from overcast.backends.changes import EVERYTHING, OnChange, Unwatch
from overcast.backends.pool import ConnectionStores
from overcast.backends.registry import BackendTarget, open_backend
from overcast.bindings.cosmos_kind import WAKE_PREFIX, wake_name
from overcast.bindings.eventhub import wakeup_name
from overcast.triggers.eventhubs import partition_wake_key
from overcast.triggers.manager import Stores
from overcast.triggers.servicebus import wake_key
from overcast.triggers.wakeup import Wakeups, same_name

LONG = 60.0  # a listener's wait: far longer than any test waits for a wake-up


class ReportingSource:
    """A ChangeSource whose reports the test makes (from another thread, as a LISTEN thread does)."""

    def __init__(self) -> None:
        self.watchers: list[OnChange] = []

    def watch_changes(self, on_change: OnChange) -> Unwatch:
        self.watchers.append(on_change)
        return lambda: self.watchers.remove(on_change)

    def report(self, name: str) -> None:
        thread = threading.Thread(target=lambda: [watch(name) for watch in self.watchers])
        thread.start()
        thread.join()


@pytest.mark.parametrize(("key_of", "reported", "key"), [
    (same_name, "orders", "orders"),
    (wake_key, "jobs", "jobs"),
    (wake_key, "events", "events"),  # a topic: its subscriptions' listeners wait on the topic
    (wake_key, "events/subscriptions/audit", "events"),  # a subscription's abandon or resubmit
    (partition_wake_key, "telemetry/3", wakeup_name("Telemetry", "3")),
    (partition_wake_key, "a.b-c/0", wakeup_name("a.b-c", "0")),
])
def test_reported_names_map_to_the_listeners_keys(key_of: Callable[[str], str], reported: str, key: str) -> None:
    assert key_of(reported) == key


def test_cosmos_wake_names_are_the_prefix_and_the_reported_name() -> None:
    assert wake_name("shop", "orders") == WAKE_PREFIX + "shop/orders"


def _stores(wakeups: Wakeups) -> Stores:
    return Stores(ConnectionStores(open_backend("memory", BackendTarget(Path(".")))), wakeups=wakeups)


async def _done(waiter: asyncio.Task[None]) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(waiter), 5.0)
        return True
    except asyncio.TimeoutError:
        waiter.cancel()
        return False


def test_a_report_wakes_the_mapped_listener_only() -> None:
    async def scenario() -> tuple[bool, bool]:
        wakeups = Wakeups()
        wakeups.bind(asyncio.get_running_loop())
        source = ReportingSource()
        _stores(wakeups).watch(source, lambda name: f"kind:{name}" if name != "unwatched" else None)
        mapped = asyncio.get_running_loop().create_task(wakeups.wait("kind:orders", LONG))
        other = asyncio.get_running_loop().create_task(wakeups.wait("kind:other", LONG))
        await asyncio.sleep(0)
        await asyncio.to_thread(source.report, "unwatched")
        await asyncio.to_thread(source.report, "orders")
        woken = await _done(mapped)
        await asyncio.sleep(0)  # a wrong wake-up of the other, scheduled before the mapped one's, has run by now
        other_woken = other.done()
        other.cancel()
        return woken, other_woken

    woken, other_woken = asyncio.run(scenario())
    assert woken and not other_woken


def test_everything_wakes_every_listener() -> None:
    async def scenario() -> list[bool]:
        wakeups = Wakeups()
        wakeups.bind(asyncio.get_running_loop())
        source = ReportingSource()
        _stores(wakeups).watch(source, lambda name: None)  # no name maps: only EVERYTHING can wake them
        waiters = [asyncio.get_running_loop().create_task(wakeups.wait(key, LONG)) for key in ("a", "b", "c")]
        await asyncio.sleep(0)
        await asyncio.to_thread(source.report, EVERYTHING)
        return [await _done(waiter) for waiter in waiters]

    assert asyncio.run(scenario()) == [True, True, True]


def test_a_store_is_watched_once() -> None:
    source = ReportingSource()
    stores = _stores(Wakeups())
    stores.watch(source, same_name)
    stores.watch(source, same_name)
    assert len(source.watchers) == 1
