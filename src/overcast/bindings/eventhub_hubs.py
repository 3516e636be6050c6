"""The event hubs of one app on one store: declared ones as the config says, others created on first use.

Every sender and listener asks :meth:`HubDirectory.ensure` before its first use of a hub (blocking; cached in the
process, so the store is asked once per hub and consumer group).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from overcast.backends.eventhubs_store import DEFAULT_CONSUMER_GROUP, EventHubsStore, HubInfo
from overcast.config.eventhubs_config import (
    DEFAULT_PARTITION_COUNT,
    DEFAULT_RETENTION_DAYS,
    HubsConfig,
    load_hubs_config,
)


class HubDirectory:
    def __init__(self, store: EventHubsStore, config: HubsConfig) -> None:
        self.store = store
        self.config = config
        self._known: dict[tuple[str, str], HubInfo] = {}
        self._lock = threading.Lock()

    def declare_all(self) -> list[HubInfo]:
        """Create every declared hub (at start, so ``overcast eventhubs list`` shows them before first use)."""
        return [self.ensure(declared.name) for declared in self.config.hubs.values()]

    def ensure(self, hub: str, group: str = DEFAULT_CONSUMER_GROUP) -> HubInfo:
        key = (hub.lower(), group.lower())
        with self._lock:
            found = self._known.get(key)
        if found is not None:
            return found
        declared = self.config.declared(hub)
        if declared is not None:
            info = self.store.ensure_hub(declared.name, declared.partition_count, [*declared.consumer_groups, group],
                                         declared.retention)
        else:
            info = self.store.ensure_hub(hub, DEFAULT_PARTITION_COUNT, [group], DEFAULT_RETENTION_DAYS * 86400.0)
        with self._lock:
            self._known[key] = info
        return info


_DIRECTORIES: WeakKeyDictionary[Any, HubDirectory] = WeakKeyDictionary()
_GUARD = threading.Lock()


def app_root() -> Path:
    """The app folder of this instance (the host sets AzureWebJobsScriptRoot and runs in it)."""
    return Path(os.environ.get("AzureWebJobsScriptRoot") or os.getcwd())


def hub_directory(store: EventHubsStore) -> HubDirectory:
    """The directory of a store opened by this instance, with the app's config (read once; ConfigError if bad)."""
    with _GUARD:
        found = _DIRECTORIES.get(store)
        if found is None:
            found = _DIRECTORIES[store] = HubDirectory(store, load_hubs_config(app_root(), os.environ))
        return found
