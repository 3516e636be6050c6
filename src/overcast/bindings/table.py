"""Table input and output bindings (the ``azure.functions`` table decorators).

The library has no table converter, so the worker's generic converter hands the function the JSON text the host
sends: always an array (``partitionKey``, ``filter`` in OData syntax and ``take`` narrow it). [QUIRK] ``rowKey`` is
ignored: for non-.NET languages the Tables extension binds the JArray rule, whose query is ``PartitionKey eq pk
[and filter]`` only (Microsoft's Python e2e test ``table_in_binding`` iterates the rows it gets back; reports:
azure-functions-python-worker#1231, azure-functions-host#10356). The output takes the JSON of one entity
or of a list; as in Azure it only inserts, so an entity that exists already fails the invocation.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from overcast.backends.base import TableStore
from overcast.bindings.odata import compile_filter
from overcast.config import json_text
from overcast.errors import OvercastError, TableBindingError

log = logging.getLogger("overcast.host.bindings")
_WARNED_ROW_KEY: set[str] = set()

# Filters are templates, so the same text comes back invocation after invocation: compile each text once.
_compiled_filter = functools.lru_cache(maxsize=256)(compile_filter)


def load(store: TableStore, table: str, partition_key: str | None, row_key: str | None, filter_text: str | None,
         take: int | None, binding: str) -> Any:
    """The Datum the function's table input receives."""
    from azure.functions.meta import Datum

    if row_key and binding not in _WARNED_ROW_KEY:
        _WARNED_ROW_KEY.add(binding)
        log.warning(
            "Table input '%s' sets rowKey, which Azure ignores for Python functions: the function receives every "
            "entity of the partition as a JSON array (Azure quirk, matched here). Pick the entity in code, or narrow "
            "the query with filter.", binding,
        )
    predicate: Callable[[Mapping[str, Any]], bool] | None = None
    if filter_text:
        try:
            predicate = _compiled_filter(filter_text)
        except OvercastError as exc:
            raise TableBindingError(f"Table input '{binding}': the filter {filter_text!r} is not valid: {exc}") from exc
    if take is not None and take < 1:
        raise TableBindingError(f"Table input '{binding}': take must be at least 1, got {take}.")
    entities = store.query(table, predicate, partition_key or None, take)
    return Datum(json.dumps(entities), "json")


def entities(datum: Any, partition_key: str | None, row_key: str | None, binding: str) -> list[dict[str, Any]]:
    """The entities an encoded table output stands for; keys missing from an entity come from the binding."""
    if datum is None or datum.type is None:
        return []
    value = datum.value
    if datum.type in ("string", "json"):
        try:
            value = json_text.loads(value, "The value")
        except ValueError as exc:
            raise TableBindingError(
                f"Table output '{binding}': the value must be the JSON of an entity or a list of entities ({exc})."
            ) from exc
    elif datum.type == "bytes":
        raise TableBindingError(f"Table output '{binding}': set a JSON string (json.dumps(entity)), not bytes.")
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise TableBindingError(
                f"Table output '{binding}': each entity must be a JSON object with PartitionKey and RowKey, "
                f"got {type(item).__name__}."
            )
        entity = dict(item)
        for key, default in (("PartitionKey", partition_key), ("RowKey", row_key)):
            if entity.get(key) is None and default:
                entity[key] = default
            if entity.get(key) is None:
                raise TableBindingError(
                    f"Table output '{binding}': the entity has no {key}; set it in the entity or in the binding."
                )
        out.append(entity)
    return out
