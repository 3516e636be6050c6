"""The table of Storage services: one line per service (its default port is the development-storage one).

A service's ``handler`` is the ``"module:function"`` of a factory taking a :class:`ServiceEnv` and returning the
async handler of its requests (:data:`Handler`), imported only when its endpoint is served.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overcast.storage_api.request import ErrorFormat, Service, StorageRequest, StorageResponse

if TYPE_CHECKING:
    from overcast.backends.base import BlobProperties, Clock
    from overcast.backends.pool import ConnectionStores

SERVICES: dict[str, Service] = {
    "blob": Service("blob", 10000, "OVERCAST_BLOB_PORT", "overcast.storage_api.blob.service:make_blob_service",
                    "xml", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
                    streamed=(("PUT", ""), ("PUT", "block"), ("PUT", "appendblock"))),
    "queue": Service("queue", 10001, "OVERCAST_QUEUE_PORT", "overcast.storage_api.queue.service:make_queue_service",
                     "xml", "Windows-Azure-Queue/1.0 Microsoft-HTTPAPI/2.0"),
    "table": Service("table", 10002, "OVERCAST_TABLE_PORT", "overcast.storage_api.table.service:make_table_service",
                     "json", "Windows-Azure-Table/1.0 Microsoft-HTTPAPI/2.0"),
}


@dataclass
class ServiceEnv:
    """What a service's handler works on: the embedded store's stores, a thread pool for blocking store calls, and
    the instance's hooks so writes through the API wake its triggers at once (None when serving alone)."""

    stores: ConnectionStores
    io: Callable[..., Awaitable[Any]]  # await io(fn, *args): run a blocking store call off the event loop
    clock: Clock
    blob_written: Callable[[BlobProperties], None] | None = None  # blocking; call it from the io pool
    wake_queue: Callable[[str], None] | None = None  # a message was put on this queue
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[StorageRequest], Awaitable[StorageResponse]]


def make_handler(service: Service, env: ServiceEnv) -> Handler:
    module, _, attribute = service.handler.partition(":")
    factory: Callable[[ServiceEnv], Handler] = getattr(importlib.import_module(module), attribute)
    return factory(env)


__all__ = ["SERVICES", "ErrorFormat", "Handler", "Service", "ServiceEnv", "make_handler"]
