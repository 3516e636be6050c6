"""The argument checks the queue and table stores make before they touch any data, one function per operation.

The in-memory stores and the SQL cores (``backends/sql``) call the same function for the same operation, so both
refuse the same arguments, in the same order, with the same ``StoreError``. The checks themselves are in
``names`` (names, keys and sizes), ``queue_service_store`` (metadata) and ``table_service_store`` (entity writes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from overcast.backends.names import (
    check_count,
    check_message_size,
    check_message_times,
    check_visibility,
    validate_entity_key,
    validate_entity_keys,
    validate_queue_name,
    validate_table_name,
)
from overcast.backends.queue_service_store import check_metadata
from overcast.backends.table_service_store import MAX_PAGE, EntityOp, encode_properties

# --- queues ----------------------------------------------------------------------------------------------------------


def queue_metadata(queue: str, metadata: Mapping[str, str]) -> dict[str, str]:
    """Creating a queue or setting its metadata: the metadata to store."""
    validate_queue_name(queue)
    return check_metadata(queue, metadata)


def check_new_message(queue: str, body: bytes, delay: float, ttl: float | None) -> None:
    """Adding a message (a binding's enqueue or the Queue API's Put Message, whose visibility timeout is the
    delay)."""
    validate_queue_name(queue)
    check_message_times(delay, ttl)
    check_message_size(queue, body)


def check_message_update(queue: str, visibility_timeout: float, body: bytes | None) -> None:
    """The Queue API's Update Message (``body`` None keeps the message's body)."""
    validate_queue_name(queue)
    check_visibility(visibility_timeout)
    if body is not None:
        check_message_size(queue, body)


# --- tables ----------------------------------------------------------------------------------------------------------


def table_key(table: str) -> str:
    """The key a table's entities are stored under: its checked name lower-cased (Azure table names ignore case)."""
    return validate_table_name(table).lower()


def entity_table_key(table: str, partition_key: str, row_key: str) -> str:
    """Reading or deleting one entity: the table's key."""
    key = table_key(table)
    validate_entity_keys(table, partition_key, row_key)
    return key


def query_table_key(table: str, partition_key: str | None, take: int | None) -> str:
    """A table store query (the bindings'): the table's key."""
    key = table_key(table)
    if partition_key is not None:
        validate_entity_key("PartitionKey", partition_key, table)
    if take is not None:
        check_count("take", take)
    return key


def page_table_key(table: str, take: int) -> str:
    """One page of the Table API's Query Entities: the table's key."""
    key = table_key(table)
    check_count("The number of entities to return", take, MAX_PAGE)
    return key


def write_table_key(table: str, ops: Sequence[EntityOp]) -> str:
    """An entity group transaction: the table's key, once every op's keys and properties are known to be storable
    (a bad one is refused before anything changes)."""
    key = table_key(table)
    for op in ops:
        encode_properties(op, table)
    return key
