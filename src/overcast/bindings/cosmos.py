"""The ``cosmosDB`` binding's settings and values: v4 names and the ``_v3`` decorators' names, the app's container
declarations (``cosmosdb.json``), input reads and queries, output documents.

Setting names are those ``azure.functions.decorators.cosmosdb`` writes to function.json: v4 ``connection``,
``containerName``, ``leaseContainerName``, ``leaseContainerPrefix``, ``createLeaseContainerIfNotExists``; v3
``connectionStringSetting``, ``collectionName``, ``leaseCollectionName``, ``leaseCollectionPrefix``,
``createLeaseCollectionIfNotExists``. Either spelling is accepted on any binding.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overcast.app.spec import BindingSpec
from overcast.backends import documents_store as ds
from overcast.backends.documents_store import DocumentStore
from overcast.errors import ConfigError, DocumentInvalid, DocumentNotFound

CONFIG_FILE = "cosmosdb.json"
_TOKEN = re.compile(r"\{([^{}]+)\}")
_configs: dict[Path, dict[tuple[str, str], tuple[str, int]]] = {}
_configs_lock = threading.Lock()


def setting(binding: BindingSpec, *names: str, default: Any = None) -> Any:
    """The first of ``names`` the binding sets (v4 name first, then the v3 one)."""
    for name in names:
        value = binding.get(name)
        if value is not None and value != "":
            return value
    return default


def flag(binding: BindingSpec, *names: str, default: bool = False) -> bool:
    value = setting(binding, *names)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def milliseconds(binding: BindingSpec, name: str, default: float) -> float:
    """A ``...Interval`` / ``feedPollDelay`` setting (milliseconds in function.json) in seconds."""
    value = setting(binding, name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"'{name}' must be a number of milliseconds, got {value!r}.") from None
    if number < 0:
        raise ConfigError(f"'{name}' must not be negative, got {value!r}.")
    return number / 1000


def connection_setting(binding: BindingSpec) -> str | None:
    found = setting(binding, "connection", "connectionStringSetting")
    return None if found is None else str(found)


def database_of(binding: BindingSpec) -> str:
    return str(setting(binding, "databaseName", default=""))


def container_of(binding: BindingSpec) -> str:
    return str(setting(binding, "containerName", "collectionName", default=""))


def start_time(value: Any) -> float | None:
    """``startFromTime`` (an ISO 8601 date and time, UTC when no offset) in seconds since the epoch."""
    if value is None or value == "":
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"'startFromTime' must be an ISO 8601 date and time such as 2021-02-16T14:19:29Z, "
                          f"got {value!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


# -- cosmosdb.json: the app's declared containers ------------------------------------------------------------------


def app_folder(directory: str) -> Path:
    """The app folder (the one with host.json) of a function's directory (v1 functions live one level down)."""
    folder = Path(directory)
    if not (folder / "host.json").exists() and (folder.parent / "host.json").exists():
        return folder.parent
    return folder


def parse_config(text: str, where: str) -> dict[tuple[str, str], tuple[str, int]]:
    """``{"databases": {db: {"containers": {name: {"partitionKey": "/path", "feedRanges": 4}}}}}`` as
    (database, container) -> (partition key path, feed ranges)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}.") from None
    shape = ('expected {"databases": {"<database>": {"containers": {"<container>": {"partitionKey": "/id"}}}}}')
    if not isinstance(data, dict) or not isinstance(data.get("databases", {}), dict):
        raise ConfigError(f"{where}: {shape}.")
    declared: dict[tuple[str, str], tuple[str, int]] = {}
    for database, body in data.get("databases", {}).items():
        containers = body.get("containers", {}) if isinstance(body, dict) else None
        if not isinstance(containers, dict):
            raise ConfigError(f"{where}: database '{database}' needs a \"containers\" object; {shape}.")
        for name, options in containers.items():
            options = options if isinstance(options, dict) else {}
            try:
                declared[database, name] = (
                    ds.validate_partition_key_path(options.get("partitionKey", ds.DEFAULT_PARTITION_KEY_PATH)),
                    ds.validate_feed_ranges(options.get("feedRanges", ds.DEFAULT_FEED_RANGES)),
                )
                ds.validate_name("database", database)
                ds.validate_name("container", name)
            except DocumentInvalid as exc:
                raise ConfigError(f"{where}: container '{database}/{name}': {exc}") from None
    return declared


def declared_containers(folder: Path) -> dict[tuple[str, str], tuple[str, int]]:
    """The app's cosmosdb.json (read once per process; {} when there is none)."""
    with _configs_lock:
        found = _configs.get(folder)
        if found is None:
            path = folder / CONFIG_FILE
            found = parse_config(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}
            _configs[folder] = found
        return found


def ensure_container(store: DocumentStore, folder: Path, database: str, container: str, *,
                     create: bool, partition_key_path: str | None = None) -> None:
    """Create a container that does not exist yet: as cosmosdb.json declares it, else (when ``create``) with the
    binding's partition key path; otherwise the service's "does not exist" error."""
    declared = declared_containers(folder).get((database, container))
    if declared is not None:
        store.create_container(database, container, *declared)
    elif create:
        store.create_container(database, container, partition_key_path or ds.DEFAULT_PARTITION_KEY_PATH)
    elif store.get_container(database, container) is None:
        raise ds.missing_container(database, container)


def declare_all(store: DocumentStore, folder: Path) -> None:
    """Create every container cosmosdb.json declares (at listener start and by the CLI)."""
    for (database, container), (path, ranges) in declared_containers(folder).items():
        store.create_container(database, container, path, ranges)


# -- Input -----------------------------------------------------------------------------------------------------------


def partition_candidates(text: str | None, item_id: str, path: str) -> list[Any]:
    """The partition key values a binding's ``partitionKey`` string may mean: the string itself, and the number,
    boolean or null it spells (an item keyed by a number is found by '42'). None: the id for an ``/id`` container,
    else no value."""
    if text is None:
        return [item_id] if path == "/id" else [ds.UNDEFINED]
    candidates: list[Any] = [text]
    try:
        parsed = json.loads(text)
    except ValueError:
        return candidates
    if parsed is None or isinstance(parsed, (bool, int, float)):
        candidates.append(parsed)
    return candidates


def read_item(store: DocumentStore, database: str, container: str, item_id: str,
              partition_key: str | None) -> ds.Document | None:
    info = store.get_container(database, container)
    if info is None:
        raise ds.missing_container(database, container)
    for candidate in partition_candidates(partition_key, item_id, info.partition_key_path):
        found = store.read(database, container, item_id, candidate)
        if found is not None:
            return found
    return None


def query_tokens(text: str) -> list[str]:
    """The ``{expressions}`` of a binding's sqlQuery, in order, each once."""
    return list(dict.fromkeys(match.group(1).strip() for match in _TOKEN.finditer(text)))


def parameter_name(token: str) -> str:
    return "@" + re.sub(r"\W", "_", token)


def parameterized(text: str) -> str:
    """The sqlQuery with each ``{expression}`` replaced by its parameter (values are bound, never spliced in)."""
    return _TOKEN.sub(lambda match: parameter_name(match.group(1).strip()), text)


# -- Output ----------------------------------------------------------------------------------------------------------


def output_documents(datum: Any, binding: str) -> list[dict[str, Any]]:
    """The items an encoded output value stands for (a Document, a DocumentList, a dict or a JSON string)."""
    if datum is None or getattr(datum, "type", None) is None:
        return []
    value = datum.value
    if datum.type == "bytes":
        value = bytes(value).decode("utf-8", errors="replace")
    if datum.type in ("string", "json", "bytes"):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise DocumentInvalid(f"Cosmos DB output '{binding}': the value must be the JSON of an item or a list of "
                                  f"items ({exc}).") from None
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, Mapping):
            raise DocumentInvalid(f"Cosmos DB output '{binding}': every item must be a JSON object, got "
                                  f"{type(item).__name__}.")
    return [dict(item) for item in items]


def write_all(store: DocumentStore, folder: Path, database: str, container: str, items: list[dict[str, Any]],
              create: bool, partition_key_path: str | None) -> None:
    """Upsert each item, creating the container first when it is missing (and may be created)."""
    for number, item in enumerate(items):
        try:
            store.write(database, container, item)
        except DocumentNotFound:
            if number or store.get_container(database, container) is not None:
                raise
            ensure_container(store, folder, database, container, create=create,
                             partition_key_path=partition_key_path)
            store.write(database, container, item)

