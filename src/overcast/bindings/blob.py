"""Blobs ↔ the Datums of the library's blob converter (§6.2): trigger metadata, binding data, input and output.

The worker decodes ``func.InputStream`` parameters with the library's BlobConverter and ``str``/``bytes`` ones with
the generic converter, so the Datum's type follows the parameter: text for ``str`` (or ``dataType: string``), raw
bytes otherwise (identical for UTF-8 content; bytes survive binary blobs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.backends.base import BlobProperties
from overcast.errors import BlobPathError
from overcast.invoke.model import Invocation

# What Azurite reports for UseDevelopmentStorage=true: the embedded store stands in for that account.
DEV_BLOB_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"


def split_path(path: str, binding: str) -> tuple[str, str]:
    """``container/name/with/slashes`` → (container, blob name)."""
    container, _, name = path.partition("/")
    if not container or not name:
        raise BlobPathError(
            f"Binding '{binding}': the blob path '{path}' must be 'container/blob name' (for example 'samples/a.txt')."
        )
    return container, name


def blob_uri(container: str, name: str) -> str:
    from urllib.parse import quote

    return f"{DEV_BLOB_ENDPOINT}/{container}/{quote(name)}"


def properties_json(props: BlobProperties) -> dict[str, Any]:
    """The blob properties the host puts in the ``Properties`` trigger metadata (BlobProperties of the SDK)."""
    modified = props.last_modified.isoformat()
    return {
        "LastModified": modified,
        "CreatedOn": modified,
        "ContentLength": props.length,
        "Length": props.length,
        "ContentType": props.content_type,
        "ETag": props.etag,
        "BlobType": "BlockBlob",
        "LeaseState": "Available",
        "LeaseStatus": "Unlocked",
    }


def wants_text(param_pytype: Any, binding: BindingSpec) -> bool:
    """True when the parameter receives a str (its annotation, or ``dataType: string`` for unannotated ones)."""
    if param_pytype is str:
        return True
    return param_pytype is None and (binding.data_type or "").lower() == "string"


def content_datum(data: bytes, text: bool) -> Any:
    from azure.functions.meta import Datum

    if text:
        return Datum(data.decode("utf-8", errors="replace"), "string")
    return Datum(data, "bytes")


@dataclass(frozen=True)
class ModelBindingData:
    """What the host sends for an SDK-type binding (the worker's ``ModelBindingData`` message): the extension reads
    the connection setting's name and the blob's container and name from ``content`` and builds the SDK client."""

    content: str
    version: str = "1.0"
    source: str = "AzureStorageBlobs"
    content_type: str = "application/json"


def is_deferred(spec: FunctionSpec, binding: BindingSpec) -> bool:
    """Whether the parameter of ``binding`` is an SDK type (BlobClient, ContainerClient, StorageStreamDownloader)."""
    return any((p.binding is binding or p.binding.name == binding.name) and p.converter_type.startswith("deferred:")
               for p in spec.params)


def model_binding_datum(binding: BindingSpec, container: str, name: str) -> Any:
    from azure.functions.meta import Datum

    content = {"Connection": str(binding.get("connection") or "AzureWebJobsStorage"), "ContainerName": container,
               "BlobName": name}
    return Datum(ModelBindingData(json.dumps(content)), "model_binding_data")


def param_for(spec: FunctionSpec, binding: BindingSpec) -> Any:
    """The annotation of the parameter bound to ``binding`` (None when unannotated)."""
    for param in spec.params:
        if param.binding is binding or param.binding.name == binding.name:
            return param.pytype
    return None


def trigger_metadata(props: BlobProperties, captures: dict[str, str]) -> dict[str, Any]:
    from azure.functions.meta import Datum

    metadata: dict[str, Any] = {
        "BlobTrigger": Datum(f"{props.container}/{props.name}", "string"),
        "Uri": Datum(blob_uri(props.container, props.name), "string"),
        "Properties": Datum(json.dumps(properties_json(props)), "json"),
        "Metadata": Datum(json.dumps(dict(props.metadata)), "json"),
    }
    for key, value in captures.items():
        metadata[key] = Datum(value, "string")
    return metadata


def binding_data(props: BlobProperties, captures: dict[str, str]) -> dict[str, Any]:
    """Values for ``{expressions}`` in the function's other bindings: the captures win over the metadata."""
    data: dict[str, Any] = {
        "BlobTrigger": f"{props.container}/{props.name}",
        "Uri": blob_uri(props.container, props.name),
        "Properties": properties_json(props),
        "Metadata": dict(props.metadata),
    }
    data.update(captures)
    return data


def output_content(datum: Any, binding: str) -> bytes | None:
    """The bytes an encoded blob output stands for: str as UTF-8, bytes raw; None when nothing was set."""
    if datum is None or datum.type is None:
        return None
    value = datum.value
    if datum.type == "string":
        return str(value).encode("utf-8")
    if datum.type == "bytes":
        return bytes(value)
    if datum.type == "json":
        return str(value).encode("utf-8")
    raise TypeError(f"Blob output '{binding}': cannot write a value of type {datum.type!r}; use str or bytes.")


def blob_invocation(spec: FunctionSpec, data: bytes, props: BlobProperties, captures: dict[str, str],
                    reason: str) -> Invocation:
    """The invocation of a blob-triggered function for one blob version."""
    trigger = spec.trigger
    if is_deferred(spec, trigger):
        datum = model_binding_datum(trigger, props.container, props.name)
    else:
        datum = content_datum(data, wants_text(param_for(spec, trigger), trigger))
    return Invocation(
        function=spec, trigger=datum,
        trigger_metadata=trigger_metadata(props, captures), reason=reason,
        binding_data=binding_data(props, captures),
    )
