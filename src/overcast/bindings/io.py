"""Input and output bindings backed by the stores: what the dispatcher loads before a call and writes after it.

Each binding type maps to a loader or writer here; HTTP outputs are the web layer's business and never come here.
Binding properties that are ``{expression}`` templates are bound per invocation against its binding data (§7); an
expression without a value fails that invocation with the host's message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.base import BlobProperties, BlobStore, QueueStore, TableStore
from overcast.bindings import blob as blob_binding
from overcast.bindings import table as table_binding
from overcast.bindings.expressions import (
    BindingTemplate,
    BlobPathPattern,
    binding_data_from_json_body,
    merge_binding_data,
)
from overcast.bindings.queue import encode_body, output_bodies
from overcast.errors import InputError, StoreMissing
from overcast.invoke.model import Invocation

log = logging.getLogger("overcast.host.bindings")

# Binding types this release can write or read (others put their function in error at start).
OUTPUT_TYPES = frozenset({"queue", "blob", "table"})
INPUT_TYPES = frozenset({"blob", "table"})


class Waker(Protocol):
    """Wakes the listener of a queue at once (the triggers' in-process notifications)."""

    def wake(self, name: str) -> None: ...


def http_binding_data(request: Any) -> dict[str, Any]:
    """Binding data of an HTTP trigger (§7): JSON body properties < query parameters < route parameters."""
    data: dict[str, Any] = {}
    body = request.get_body() if hasattr(request, "get_body") else b""
    if body:
        try:
            data = binding_data_from_json_body(body.decode("utf-8"), "The request body")
        except (UnicodeDecodeError, InputError):
            # As the host, which ignores a body its JSON reader rejects: the function still gets the request.
            data = {}
    query = {k: v for k, v in dict(getattr(request, "params", {}) or {}).items() if k.lower() != "code"}
    data = merge_binding_data(data, query)
    data = merge_binding_data(data, dict(getattr(request, "route_params", {}) or {}))
    data["Query"] = dict(query)
    data["Headers"] = dict(getattr(request, "headers", {}) or {})
    return data


@dataclass
class BindingIO:
    queues: QueueStore | None
    wakeups: Waker
    queue_encoding: str
    io: Callable[..., Awaitable[Any]]
    blobs: BlobStore | None = None
    tables: TableStore | None = None
    # Called (blocking, on the store pool) after a blob output is written: the blob trigger's notification.
    on_blob_written: Callable[[BlobProperties], None] | None = None
    # The durable client parameter's value for a binding (set when the app has durable functions).
    durable_client: Callable[[BindingSpec], str] | None = None
    _templates: dict[str, BindingTemplate] = field(default_factory=dict)

    def _data(self, invocation: Invocation) -> dict[str, Any]:
        if not invocation.binding_data and invocation.direct_value is not None:
            invocation.binding_data = http_binding_data(invocation.direct_value)
        return invocation.binding_data

    def resolve(self, invocation: Invocation, binding: BindingSpec, key: str) -> str | None:
        """A binding property with its ``{expressions}`` bound for this invocation (None when absent)."""
        raw = binding.get(key)
        if raw is None:
            return None
        text = str(raw)
        if "{" not in text:
            return text
        template = self._templates.get(text)
        if template is None:
            template = self._templates[text] = BindingTemplate.parse(text)
        return template.bind(self._data(invocation), method_name=invocation.function.name)

    def queue_name(self, invocation: Invocation, binding: BindingSpec) -> str:
        return (self.resolve(invocation, binding, "queueName") or "").lower()

    async def load(self, invocation: Invocation, binding: BindingSpec) -> Any:
        if binding.is_durable_client and self.durable_client is not None:
            from azure.functions.meta import Datum

            return Datum(self.durable_client(binding), "string")
        if binding.type == "blob":
            blobs = self._store(self.blobs, binding)
            path = self.resolve(invocation, binding, "path") or ""
            container, name = blob_binding.split_path(path, binding.name)
            found = await self.io(blobs.get, container, name)
            if found is None:
                return None  # a missing input blob is None, as in the host
            text = blob_binding.wants_text(blob_binding.param_for(invocation.function, binding), binding)
            return blob_binding.content_datum(found[0], text)
        if binding.type == "table":
            tables = self._store(self.tables, binding)
            take = binding.get("take")
            return await self.io(
                table_binding.load, tables, self.resolve(invocation, binding, "tableName") or "",
                self.resolve(invocation, binding, "partitionKey"), self.resolve(invocation, binding, "rowKey"),
                self.resolve(invocation, binding, "filter"), None if take in (None, "") else int(take), binding.name,
            )
        raise TypeError(f"binding type '{binding.type}' has no input support")

    async def store(self, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        if binding.type == "queue":
            queues = self._store(self.queues, binding)
            queue = self.queue_name(invocation, binding)
            for body in output_bodies(datum):
                await self.io(queues.enqueue, queue, encode_body(body, self.queue_encoding))
            self.wakeups.wake(queue)
            return
        if binding.type == "blob":
            content = blob_binding.output_content(datum, binding.name)
            if content is not None:
                container, name = blob_binding.split_path(self.resolve(invocation, binding, "path") or "",
                                                          binding.name)
                await self.io(self._write_blob, container, name, content)
            return
        if binding.type == "table":
            tables = self._store(self.tables, binding)
            table = self.resolve(invocation, binding, "tableName") or ""
            rows = table_binding.entities(datum, self.resolve(invocation, binding, "partitionKey"),
                                          self.resolve(invocation, binding, "rowKey"), binding.name)
            for entity in rows:
                await self.io(tables.insert, table, entity)
            return
        raise TypeError(f"binding type '{binding.type}' has no output support")

    async def manual_blob(self, spec: FunctionSpec, path: str) -> Invocation | None:
        """A manual invocation of a blob-triggered function: ``path`` names the blob to read (None: no such blob)."""
        blobs = self._store(self.blobs, spec.trigger)
        container, name = blob_binding.split_path(path, spec.trigger.name)
        found = await self.io(blobs.get, container, name)
        if found is None:
            return None
        pattern = BlobPathPattern.parse(str(spec.trigger.get("path") or ""))
        captures = pattern.match(container, name) or {}
        return blob_binding.blob_invocation(spec, found[0], found[1], captures,
                                            reason="This function was programmatically called via the host APIs.")

    def _write_blob(self, container: str, name: str, content: bytes) -> None:
        blobs = self._store(self.blobs, None)
        props = blobs.put(container, name, content)
        if self.on_blob_written is not None:
            try:
                self.on_blob_written(props)
            except Exception:
                # The blob is written; the scan notices it instead.
                log.exception("Notifying blob triggers of '%s/%s' failed; the next scan picks it up.", container, name)

    @staticmethod
    def _store(store: Any, binding: BindingSpec | None) -> Any:
        if store is None:
            what = f"binding '{binding.name}' ({binding.type})" if binding is not None else "a blob binding"
            raise StoreMissing(f"No store is open for {what}.")
        return store

