"""The app's Service Bus entities, declared in the Service Bus emulator's ``Config.json`` shape.

``UserConfig`` → ``Namespaces`` → ``Queues`` / ``Topics`` (→ ``Subscriptions`` → ``Rules``), each with its
``Name`` and ``Properties``, so an app already set up for the emulator runs as it is. The file is
``servicebus.config.json`` in the app folder, or the path in ``OVERCAST_SERVICEBUS_CONFIG``. Entities of every
namespace are served (the embedded store has one namespace). Durations are ISO 8601 (``PT1M``), as in the
emulator's file; .NET TimeSpans (``00:01:00``) are accepted too. Any error is one ConfigError line naming the
file and the entry, so ``overcast start`` stops with exit 3.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overcast.backends.servicebus_store import (
    DEFAULT_DUPLICATE_WINDOW,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    Entity,
    EntityKind,
    EntityProperties,
    Rule,
    compile_rule,
    subscription_path,
)
from overcast.config import jsonc
from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError

FILE_NAME = "servicebus.config.json"
ENV_VAR = "OVERCAST_SERVICEBUS_CONFIG"
_ISO = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
                  r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)
NEVER = 10675199 * 86400.0  # TimeSpan.MaxValue's days: "never expires"
_QUEUE_KEYS = {"deadletteringonmessageexpiration", "defaultmessagetimetolive", "duplicatedetectionhistorytimewindow",
               "forwarddeadletteredmessagesto", "forwardto", "lockduration", "maxdeliverycount",
               "requiresduplicatedetection", "requiressession", "maxsizeinmegabytes", "enablepartitioning",
               "enablebatchedoperations", "status", "autodeleteonidle"}


def config_path(script_root: Path, environ: Mapping[str, str]) -> Path | None:
    """The entity file to read: the setting's path (which must exist), else the app folder's file if present."""
    explicit = environ.get(ENV_VAR, "").strip()
    if explicit:
        path = Path(explicit)
        path = path if path.is_absolute() else script_root / path
        if not path.is_file():
            raise ConfigError(f"{ENV_VAR} names '{path}', which is not a file; fix the path or unset it.")
        return path
    found = script_root / FILE_NAME
    return found if found.is_file() else None


def duration(value: Any, where: str) -> float:
    """Seconds for an ISO 8601 duration (``PT1M``) or a .NET TimeSpan (``00:01:00``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {value!r} is not a duration; write one like \"PT1M\" (ISO 8601).")
    match = _ISO.match(value.strip())
    if match and any(match.groupdict().values()):
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    try:
        return parse_timespan(value, what=where)
    except ConfigError:
        raise ConfigError(f"{where}: {value!r} is not a duration; write one like \"PT1M\" (ISO 8601).") from None


def _flag(props: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = props.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: {value!r} must be true or false.")
    return value


def _props(raw: Any, kind: EntityKind, where: str) -> EntityProperties:
    if raw is None:
        return EntityProperties()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.Properties must be an object.")
    folded = {str(k).lower(): v for k, v in raw.items()}
    unknown = sorted(str(k) for k in raw if str(k).lower() not in _QUEUE_KEYS)
    if unknown:
        raise ConfigError(f"{where}.Properties: unknown propert{'ies' if len(unknown) > 1 else 'y'} "
                          f"{', '.join(unknown)} (see the Service Bus emulator's Config.json).")
    where_p = f"{where}.Properties"
    ttl = folded.get("defaultmessagetimetolive")
    ttl_s = None if ttl is None else duration(ttl, f"{where_p}.DefaultMessageTimeToLive")
    lock = duration(folded.get("lockduration", "PT1M"), f"{where_p}.LockDuration")
    if not 5 <= lock <= 300:
        raise ConfigError(f"{where_p}.LockDuration must be between 5 seconds and 5 minutes, as in Azure.")
    count = folded.get("maxdeliverycount", 10)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(f"{where_p}.MaxDeliveryCount: {count!r} must be a whole number of at least 1.")
    window = None
    if _flag(folded, "requiresduplicatedetection", where_p):
        window = duration(folded.get("duplicatedetectionhistorytimewindow", DEFAULT_DUPLICATE_WINDOW),
                          f"{where_p}.DuplicateDetectionHistoryTimeWindow")
    return EntityProperties(
        lock_duration=lock, max_delivery_count=count,
        default_ttl=None if ttl_s is None or ttl_s >= NEVER else ttl_s,
        dead_letter_on_expiration=kind != TOPIC and _flag(folded, "deadletteringonmessageexpiration", where_p),
        requires_session=kind != TOPIC and _flag(folded, "requiressession", where_p), duplicate_window=window,
    )


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
        raise ConfigError(f"{where} must be an object with a \"Name\".")
    props = raw.get("Properties") or {}
    if not isinstance(props, Mapping):
        raise ConfigError(f"{where}.Properties must be an object.")
    kind = str(props.get("FilterType", "Sql")).lower()
    action = props.get("Action")
    action_sql = action.get("SqlExpression") if isinstance(action, Mapping) else None
    if kind == "correlation":
        correlation = props.get("CorrelationFilter")
        if not isinstance(correlation, Mapping):
            raise ConfigError(f"{where}.Properties.CorrelationFilter must be an object.")
        rule = Rule(raw["Name"], correlation=dict(correlation), action=action_sql)
    elif kind == "sql":
        sql = props.get("SqlFilter")
        expression = sql.get("SqlExpression") if isinstance(sql, Mapping) else None
        if not isinstance(expression, str):
            raise ConfigError(f"{where}.Properties.SqlFilter.SqlExpression must be a string.")
        rule = Rule(raw["Name"], sql=expression, action=action_sql)
    else:
        raise ConfigError(f"{where}.Properties.FilterType: {props.get('FilterType')!r} must be \"Sql\" or "
                          f"\"Correlation\".")
    try:
        compile_rule(rule)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}.") from None
    return rule


def _items(parent: Mapping[str, Any], key: str, where: str) -> list[tuple[str, Mapping[str, Any]]]:
    raw = parent.get(key) or []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}.{key} must be a list.")
    found = []
    for i, item in enumerate(raw):
        at = f"{where}.{key}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str) or not item["Name"].strip():
            raise ConfigError(f"{at} must be an object with a \"Name\".")
        found.append((at, item))
    return found


def parse_entities(document: Any, source: str) -> list[Entity]:
    """The entities of a Config.json document; ConfigError (prefixed with ``source``) for anything wrong."""
    try:
        if not isinstance(document, Mapping) or not isinstance(document.get("UserConfig"), Mapping):
            raise ConfigError("it must be an object with \"UserConfig\" → \"Namespaces\" (the emulator's shape)")
        entities: list[Entity] = []
        for ns_at, namespace in _items(document["UserConfig"], "Namespaces", "UserConfig"):
            for at, queue in _items(namespace, "Queues", ns_at):
                entities.append(Entity(queue["Name"], QUEUE, _props(queue.get("Properties"), QUEUE, at)))
            for at, topic in _items(namespace, "Topics", ns_at):
                entities.append(Entity(topic["Name"], TOPIC, _props(topic.get("Properties"), TOPIC, at)))
                for sub_at, sub in _items(topic, "Subscriptions", at):
                    raw_rules = sub.get("Rules")
                    if raw_rules is not None and not isinstance(raw_rules, list):
                        raise ConfigError(f"{sub_at}.Rules must be a list.")
                    rules = tuple(_rule(r, f"{sub_at}.Rules[{i}]") for i, r in enumerate(raw_rules or []))
                    entities.append(Entity(subscription_path(topic["Name"], sub["Name"]), SUBSCRIPTION,
                                           _props(sub.get("Properties"), SUBSCRIPTION, sub_at),
                                           rules or Entity("", SUBSCRIPTION).rules))
    except ConfigError as exc:
        raise ConfigError(f"Service Bus entity config '{source}': {exc}") from None
    return entities


_cache: dict[tuple[str, float], list[Entity]] = {}


def load_entities(script_root: Path, environ: Mapping[str, str] | None = None) -> list[Entity]:
    """The app's declared entities ([] without a file); ConfigError for a bad file."""
    path = config_path(script_root, os.environ if environ is None else environ)
    if path is None:
        return []
    key = (str(path), path.stat().st_mtime)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = parse_entities(jsonc.load_file(path, what="Unable to parse Service Bus entity config"),
                                             str(path))
    return found
