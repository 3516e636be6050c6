"""The ``blob`` kind: the ``blobTrigger`` trigger (scans and a shared queue) and ``blob`` input / output bindings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.bindings import blob as blob_binding
from overcast.errors import ConfigError, InputError, StoreError
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, Need


class BlobKind(BindingKind):
    trigger = input = output = listened = connection = True
    # The blob trigger runs through a queue (it consumes it) and scans under a lease; a manual call reads the blob.
    trigger_needs: frozenset[Need] = frozenset({"queues", "consumer", "leases", "blobs", "binding_io"})
    binding_needs: frozenset[Need] = frozenset({"blobs", "binding_io"})
    listener = "overcast.triggers.blob:blob_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        """A blob path that can never work, found at start rather than on every invocation."""
        from overcast.backends.names import validate_container_name
        from overcast.bindings.expressions import BlobPathPattern

        path = str(binding.get("path") or "")
        container, slash, name = path.partition("/")
        if binding.is_trigger:
            try:
                BlobPathPattern.parse(path)
            except ConfigError as exc:
                return [str(exc)]
        elif not slash or not container or not name:
            return [f"Blob binding '{binding.name}': the path '{path}' must be 'container/blob name'."]
        if "{" not in container:
            try:
                validate_container_name(container)
            except StoreError as exc:
                return [f"Blob binding '{binding.name}': {exc}"]
        return []

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        blobs = values.store_for("blobs", binding)
        container, name = blob_binding.split_path(values.resolve(invocation, binding, "path") or "", binding.name)
        if blob_binding.is_deferred(invocation.function, binding):
            return blob_binding.model_binding_datum(binding, container, name)  # the extension builds the client
        found = await values.call(blobs.get, container, name)
        if found is None:
            return None  # a missing input blob is None, as in the host
        text = blob_binding.wants_text(blob_binding.param_for(invocation.function, binding), binding)
        return blob_binding.content_datum(found[0], text)

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        content = blob_binding.output_content(datum, binding.name)
        if content is not None:
            container, name = blob_binding.split_path(values.resolve(invocation, binding, "path") or "", binding.name)
            await values.call(values.write_blob, container, name, content)

    async def manual_invocation(self, spec: FunctionSpec, text: str, values: BindingValues | None) -> Invocation:
        """As in the host, the input names the blob to read."""
        if values is None:
            return await super().manual_invocation(spec, text, values)
        from overcast.bindings.expressions import BlobPathPattern

        blobs = values.store_for("blobs", spec.trigger)
        container, name = blob_binding.split_path(text, spec.trigger.name)
        found = await values.call(blobs.get, container, name)
        if found is None:
            raise InputError(f"There is no blob '{text}'. The input names a blob as 'container/blob name'.")
        pattern = BlobPathPattern.parse(str(spec.trigger.get("path") or ""))
        captures = pattern.match(container, name) or {}
        return blob_binding.blob_invocation(spec, found[0], found[1], captures,
                                            reason="This function was programmatically called via the host APIs.")
