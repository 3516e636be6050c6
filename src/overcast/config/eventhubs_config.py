"""Declared event hubs, in the Event Hubs emulator's ``Config.json`` shape, so an app set up for the emulator runs
as it is::

    {"UserConfig": {"NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1", "Entities": [
        {"Name": "eh1", "PartitionCount": "2", "ConsumerGroups": [{"Name": "cg1"}]}]}]}}

The file is ``OVERCAST_EVENTHUBS_CONFIG`` (a path, relative to the app folder) or else ``eventhubs.config.json`` in
the app folder; without one, every hub is created on first use with :data:`DEFAULT_PARTITION_COUNT` partitions.
``MessageRetentionInDays`` (Azure's property; whole or fractional days) is read as well. Anything wrong stops the
start with one line (:class:`ConfigError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overcast.errors import ConfigError

CONFIG_FILE = "eventhubs.config.json"
CONFIG_VARIABLE = "OVERCAST_EVENTHUBS_CONFIG"
# A hub nobody declared gets 4 partitions: enough for two to four instances (`--workers`) to each own some, as a
# small Azure hub would be spread; the emulator has no default (it needs every hub declared).
DEFAULT_PARTITION_COUNT = 4
DEFAULT_RETENTION_DAYS = 1.0
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class HubDeclaration:
    name: str
    partition_count: int
    consumer_groups: tuple[str, ...]
    retention: float  # seconds


@dataclass(frozen=True)
class HubsConfig:
    namespace: str  # the first declared namespace's name, or ""
    hubs: Mapping[str, HubDeclaration]  # by lower-cased name
    source: str  # the file read, or "" when there is none

    def declared(self, hub: str) -> HubDeclaration | None:
        return self.hubs.get(hub.lower())


def _get(node: Mapping[str, Any], key: str) -> Any:
    """A property by name, ignoring case (the emulator's reader does)."""
    for k, v in node.items():
        if str(k).lower() == key.lower():
            return v
    return None


def _list(node: Any, where: str) -> list[Any]:
    if node is None:
        return []
    if not isinstance(node, list):
        raise ConfigError(f"{where} must be a list.")
    return node


def _entity(node: Any, source: str, index: int) -> HubDeclaration:
    where = f"{source}: UserConfig.NamespaceConfig[].Entities[{index}]"
    if not isinstance(node, Mapping):
        raise ConfigError(f"{where} must be an object with Name and PartitionCount.")
    name = _get(node, "Name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.Name must be an event hub name (letters, digits, '.', '-', '_'), got {name!r}.")
    raw_count = _get(node, "PartitionCount")
    try:
        count = int(str(raw_count)) if raw_count is not None else DEFAULT_PARTITION_COUNT
    except ValueError:
        count = 0
    if not 1 <= count <= 32 or isinstance(raw_count, bool):
        raise ConfigError(f"{where} ('{name}'): PartitionCount must be 1 to 32, got {raw_count!r}.")
    groups = []
    for group in _list(_get(node, "ConsumerGroups"), f"{where}.ConsumerGroups"):
        group_name = _get(group, "Name") if isinstance(group, Mapping) else None
        if not isinstance(group_name, str) or not group_name:
            raise ConfigError(f"{where} ('{name}'): each ConsumerGroups entry needs a Name, got {group!r}.")
        groups.append(group_name)
    raw_days = _get(node, "MessageRetentionInDays")
    try:
        days = float(str(raw_days)) if raw_days is not None else DEFAULT_RETENTION_DAYS
    except ValueError:
        days = 0.0
    if days <= 0:
        raise ConfigError(f"{where} ('{name}'): MessageRetentionInDays must be a positive number, got {raw_days!r}.")
    return HubDeclaration(name, count, tuple(groups), days * 86400.0)


def parse_hubs_config(text: str, source: str) -> HubsConfig:
    try:
        tree = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source} is not valid JSON ({exc}).") from None
    user = _get(tree, "UserConfig") if isinstance(tree, Mapping) else None
    if not isinstance(user, Mapping):
        raise ConfigError(f"{source} must hold {{\"UserConfig\": {{\"NamespaceConfig\": [...]}}}}, as the Event Hubs "
                          "emulator's Config.json.")
    hubs: dict[str, HubDeclaration] = {}
    namespace = ""
    for ns in _list(_get(user, "NamespaceConfig"), f"{source}: UserConfig.NamespaceConfig"):
        if not isinstance(ns, Mapping):
            raise ConfigError(f"{source}: each UserConfig.NamespaceConfig entry must be an object.")
        kind = _get(ns, "Type")
        if kind is not None and str(kind).lower() != "eventhub":
            continue  # a Service Bus namespace of a shared config file is not ours
        namespace = namespace or str(_get(ns, "Name") or "")
        for index, entity in enumerate(_list(_get(ns, "Entities"), f"{source}: UserConfig.NamespaceConfig[].Entities")):
            declared = _entity(entity, source, index)
            if declared.name.lower() in hubs:
                raise ConfigError(f"{source}: event hub '{declared.name}' is declared twice.")
            hubs[declared.name.lower()] = declared
    return HubsConfig(namespace, hubs, source)


def load_hubs_config(script_root: Path, environ: Mapping[str, str]) -> HubsConfig:
    """The app's declared hubs (an empty config when it has no file). Raises ConfigError."""
    given = environ.get(CONFIG_VARIABLE, "").strip()
    path = (script_root / given) if given else script_root / CONFIG_FILE
    if not given and not path.is_file():
        return HubsConfig("", {}, "")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        what = f"{CONFIG_VARIABLE} names '{path}', which" if given else f"'{path}'"
        raise ConfigError(f"{what} cannot be read ({exc.strerror or exc}).") from None
    return parse_hubs_config(text, str(path))
