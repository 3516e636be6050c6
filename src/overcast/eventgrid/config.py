"""``eventgrid.json``: the app's local Event Grid topics and their subscriptions (the file is optional).

Shape (docs/eventgrid.md)::

    {"topics": {"orders": {"subscriptions": {
        "audit": {"function": "audit_order",
                  "filter": {"subjectBeginsWith": "/orders/", "subjectEndsWith": ".json",
                             "includedEventTypes": ["Contoso.Orders.Created"], "isSubjectCaseSensitive": false},
                  "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
                  "deadLetter": {"container": "deadletters"}},
        "erp": {"endpoint": "https://erp.example.com/events"}}}}}

A subscription sends to a function of this app (an Event Grid trigger) or to a webhook URL. Topic and
subscription names ignore case. Blob triggers with ``source="EventGrid"`` add their own subscriptions to the
storage topic (:data:`STORAGE_TOPIC`). Any mistake stops the start with one line naming the file and the entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from overcast.config.jsonc import load_file
from overcast.errors import ConfigError
from overcast.eventgrid.events import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TTL_MINUTES,
    MAX_ATTEMPTS_LIMIT,
    EventFilter,
)

FILE_NAME = "eventgrid.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Subscription:
    name: str  # lower-case
    topic: str  # lower-case
    function: str | None = None  # a function of this app (an Event Grid trigger, or a blob trigger's events)
    endpoint: str | None = None  # a webhook URL
    filter: EventFilter = field(default_factory=EventFilter)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ttl_minutes: int = DEFAULT_TTL_MINUTES
    dead_letter_container: str | None = None
    blob_trigger: bool = False  # the target is a blob trigger: the event names the blob to read

    @property
    def target(self) -> str:
        return f"function '{self.function}'" if self.function else f"webhook {self.endpoint}"


@dataclass
class EventGridConfig:
    topics: dict[str, dict[str, Subscription]] = field(default_factory=dict)  # topic -> name -> subscription
    path: Path | None = None

    def subscriptions(self, topic: str) -> list[Subscription]:
        return list(self.topics.get(topic.lower(), {}).values())

    def find(self, name: str) -> Subscription | None:
        for subscriptions in self.topics.values():
            if name in subscriptions:
                return subscriptions[name]
        return None

    def add(self, subscription: Subscription) -> None:
        self.topics.setdefault(subscription.topic, {})[subscription.name] = subscription

    @property
    def all(self) -> list[Subscription]:
        return [s for subs in self.topics.values() for s in subs.values()]


def _problem(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def _name(path: Path, where: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _problem(path, where, f"the name {name!r} is not valid; use letters, digits, '-', '_' or '.'.")
    return name.lower()


def _object(path: Path, where: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _problem(path, where, "must be a JSON object.")
    return value


def _int(path: Path, where: str, value: Any, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _problem(path, where, f"must be a whole number from {low} to {high}, got {value!r}.")
    return value


def _filter(path: Path, where: str, raw: Mapping[str, Any]) -> EventFilter:
    types = raw.get("includedEventTypes") or []
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise _problem(path, f"{where}.includedEventTypes", "must be a list of event type names.")
    texts = {}
    for key in ("subjectBeginsWith", "subjectEndsWith"):
        value = raw.get(key) or ""
        if not isinstance(value, str):
            raise _problem(path, f"{where}.{key}", "must be text.")
        texts[key] = value
    return EventFilter(texts["subjectBeginsWith"], texts["subjectEndsWith"], tuple(types),
                       bool(raw.get("isSubjectCaseSensitive", False)))


def _subscription(path: Path, topic: str, name: str, raw: Any) -> Subscription:
    where = f"topics.{topic}.subscriptions.{name}"
    raw = _object(path, where, raw)
    function, endpoint = raw.get("function"), raw.get("endpoint")
    if (function is None) == (endpoint is None):
        raise _problem(path, where, "give exactly one of \"function\" (a function of this app) or \"endpoint\" "
                                    "(a webhook URL).")
    if function is not None and (not isinstance(function, str) or not function):
        raise _problem(path, f"{where}.function", "must be a function name.")
    if endpoint is not None:
        parsed = urlparse(str(endpoint))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise _problem(path, f"{where}.endpoint", f"{endpoint!r} is not an http(s) URL.")
    retry = _object(path, f"{where}.retryPolicy", raw.get("retryPolicy"))
    dead = _object(path, f"{where}.deadLetter", raw.get("deadLetter"))
    container = dead.get("container")
    if container is not None:
        from overcast.backends.names import validate_container_name
        from overcast.errors import StoreError

        try:
            validate_container_name(str(container))
        except StoreError as exc:
            raise _problem(path, f"{where}.deadLetter.container", str(exc)) from None
    return Subscription(
        name=name, topic=topic, function=function, endpoint=endpoint,
        filter=_filter(path, f"{where}.filter", _object(path, f"{where}.filter", raw.get("filter"))),
        max_attempts=_int(path, f"{where}.retryPolicy.maxDeliveryAttempts", retry.get("maxDeliveryAttempts"),
                          DEFAULT_MAX_ATTEMPTS, 1, MAX_ATTEMPTS_LIMIT),
        ttl_minutes=_int(path, f"{where}.retryPolicy.eventTimeToLiveInMinutes",
                         retry.get("eventTimeToLiveInMinutes"), DEFAULT_TTL_MINUTES, 1, DEFAULT_TTL_MINUTES),
        dead_letter_container=str(container) if container is not None else None,
    )


def load_config(script_root: Path) -> EventGridConfig:
    """The app's ``eventgrid.json`` (an empty configuration when there is none); ConfigError for any mistake."""
    path = script_root / FILE_NAME
    config = EventGridConfig(path=path)
    if not path.is_file():
        return config
    raw = _object(path, "the file", load_file(path, what="Unable to parse Event Grid configuration file"))
    unknown = set(raw) - {"topics", "$schema"}
    if unknown:
        raise _problem(path, "the file", f"unknown properties {sorted(unknown)}; the file holds \"topics\".")
    for topic_name, topic_raw in _object(path, "topics", raw.get("topics")).items():
        topic = _name(path, f"topics.{topic_name}", topic_name)
        if topic in config.topics:
            raise _problem(path, f"topics.{topic_name}", "is declared twice (names ignore case).")
        config.topics[topic] = {}
        topic_obj = _object(path, f"topics.{topic_name}", topic_raw)
        subs = _object(path, f"topics.{topic_name}.subscriptions", topic_obj.get("subscriptions"))
        for sub_name, sub_raw in subs.items():
            name = _name(path, f"topics.{topic_name}.subscriptions.{sub_name}", sub_name)
            if config.find(name) is not None:
                raise _problem(path, f"topics.{topic_name}.subscriptions.{sub_name}",
                               "another subscription has this name (names ignore case and are unique).")
            config.add(_subscription(path, topic, name, sub_raw))
    return config


def check_functions(config: EventGridConfig, triggers: Mapping[str, str]) -> list[str]:
    """Subscriptions to functions checked against the loaded functions (names in any case -> trigger type).

    One sending to a function with another trigger is a ConfigError; one to a function that is not loaded (absent,
    disabled, in error) is a warning: its events wait, retried, until it loads or their time to live ends."""
    by_name = {name.lower(): (name, kind) for name, kind in triggers.items()}
    warnings = []
    for sub in config.all:
        if sub.function is None or sub.blob_trigger:
            continue
        found = by_name.get(sub.function.lower())
        where = f"topics.{sub.topic}.subscriptions.{sub.name}.function"
        if found is None:
            warnings.append(f"{config.path or FILE_NAME}: {where}: no loaded function is named '{sub.function}'; "
                            f"its events are retried until it loads.")
        elif found[1].lower() != "eventgridtrigger":
            raise _problem(config.path or Path(FILE_NAME), where,
                           f"function '{found[0]}' has a '{found[1]}' trigger; a subscription sends to Event Grid "
                           f"triggers.")
    return warnings
