"""Blob events: the embedded storage account publishes ``Microsoft.Storage.BlobCreated`` / ``BlobDeleted`` to its
Event Grid system topic (:data:`STORAGE_TOPIC`), as an Azure storage account does, for every blob written or
deleted through a connection's blob store (output bindings, the Blob REST API, ``overcast blob``, dead letters).

:class:`PublishingBlobStore` wraps a connection's blob store (``ConnectionStores.blobs``). It publishes only while an
app subscribes to the storage topic: the host then sets :data:`BLOB_EVENTS_KEY` in the state store (re-read at most
every :data:`FLAG_SECONDS`), so apps without blob subscriptions pay one cached lookup per write and keep no events.
A failure to publish is logged; it never fails the write that caused it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from overcast.backends.base import BlobProperties, BlobStore, StateStore

if TYPE_CHECKING:
    from overcast.backends.eventgrid_store import EventGridStore

log = logging.getLogger("overcast.host.blobs.events")
STORAGE_TOPIC = "storage"


def blob_subscription_name(function: str) -> str:
    """The storage topic's subscription of a blob trigger with ``source="EventGrid"`` (as Azure creates one)."""
    return f"blobtrigger-{function.lower()}"


BLOB_EVENTS_KEY = "eventgrid/blob-events"
FLAG_SECONDS = 1.0
ACCOUNT = "devstoreaccount1"
BLOB_ENDPOINT = f"http://127.0.0.1:10000/{ACCOUNT}"
TOPIC_ID = (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/overcast/providers/"
            f"Microsoft.Storage/storageAccounts/{ACCOUNT}")
_sequence = iter(range(1, 1 << 62))
_sequence_lock = threading.Lock()


def _sequencer(now: float) -> str:
    """Event Grid's ``sequencer``: an opaque string that orders a blob's events (time, then a per-process count)."""
    with _sequence_lock:
        count = next(_sequence)
    return f"{int(now * 1_000_000):016x}{count:016x}"


def blob_event(kind: str, props: BlobProperties, now: float, api: str | None = None) -> dict[str, Any]:
    """A BlobCreated / BlobDeleted event in the Event Grid schema, with the data fields Azure Storage sends;
    ``api``: the operation that caused it (PutBlob, PutBlockList, CopyBlob, DeleteBlob)."""
    url = f"{BLOB_ENDPOINT}/{props.container}/{quote(props.name)}"
    created = kind == "BlobCreated"
    data: dict[str, Any] = {
        "api": api or ("PutBlob" if created else "DeleteBlob"),
        "clientRequestId": str(uuid.uuid4()),
        "requestId": str(uuid.uuid4()),
        "contentType": props.content_type,
        "blobType": "BlockBlob",
        "url": url,
        "sequencer": _sequencer(now),
        "storageDiagnostics": {"batchId": str(uuid.uuid4())},
    }
    if created:
        data.update({"eTag": props.etag.strip('"'), "contentLength": props.length})
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"
    return {
        "topic": TOPIC_ID,
        "subject": f"/blobServices/default/containers/{props.container}/blobs/{props.name}",
        "eventType": f"Microsoft.Storage.{kind}",
        "id": str(uuid.uuid4()),
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": moment,
    }


class _Stores:
    """What the wrapper needs from its connection (``ConnectionStores``): the state and Event Grid stores."""

    state: StateStore
    eventgrid: EventGridStore


class PublishingBlobStore:
    """A BlobStore that publishes blob events after each put and delete (every other call goes to ``inner``)."""

    def __init__(self, inner: BlobStore, stores: Any, clock: Any = time.time) -> None:
        self._inner = inner
        self._stores: _Stores = stores
        self._clock = clock
        self._checked = float("-inf")
        self._enabled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def enabled(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= FLAG_SECONDS:
            try:
                self._enabled = self._stores.state.get(BLOB_EVENTS_KEY) == "on"
            except Exception:  # the write goes on; events resume when the state store answers again
                log.exception("Cannot read whether blob events are subscribed to.")
                self._enabled = False
            self._checked = now
        return self._enabled

    def announce(self, kind: str, props: BlobProperties, api: str) -> None:
        """Publish an event for a write or delete made beside this wrapper (the Blob REST API's own operations on
        the same blobs), while an app subscribes. Blocking: call it from the store pool."""
        if self.enabled():
            self._publish(kind, props, api)

    def _publish(self, kind: str, props: BlobProperties, api: str | None = None) -> None:
        try:
            self._stores.eventgrid.publish(STORAGE_TOPIC, [json.dumps(blob_event(kind, props, self._clock(), api))])
        except Exception:
            log.exception("Publishing %s for '%s/%s' failed; the blob operation itself succeeded.", kind,
                          props.container, props.name)

    def put(self, container: str, name: str, data: bytes, *, content_type: str = "application/octet-stream",
            metadata: Mapping[str, str] | None = None) -> BlobProperties:
        props = self._inner.put(container, name, data, content_type=content_type, metadata=metadata)
        if self.enabled():
            self._publish("BlobCreated", props)
        return props

    def write_stream(self, container: str, name: str, chunks: Iterable[bytes], *,
                     content_type: str = "application/octet-stream",
                     metadata: Mapping[str, str] | None = None) -> BlobProperties:
        props = self._inner.write_stream(container, name, chunks, content_type=content_type, metadata=metadata)
        if self.enabled():
            self._publish("BlobCreated", props)
        return props

    def delete(self, container: str, name: str) -> bool:
        props = self._inner.properties(container, name) if self.enabled() else None
        deleted = self._inner.delete(container, name)
        if deleted and props is not None:
            self._publish("BlobDeleted", props)
        return deleted

    def close(self) -> None:
        self._inner.close()
