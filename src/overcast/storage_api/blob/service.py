"""Routing Blob service requests to their operations (the REST reference's URI, verb, ``restype`` and ``comp``)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from overcast.backends.base import BlobProperties
from overcast.errors import StorageApiError, StoreError
from overcast.storage_api.auth import authorize
from overcast.storage_api.blob.xmlout import XML_HEAD, element, elements, http_date, metadata_xml
from overcast.storage_api.errors import error, invalid_query
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.services import Handler, ServiceEnv

XML = {"Content-Type": "application/xml"}
MAX_RESULTS = 5000


def not_implemented(request: StorageRequest) -> StorageApiError:
    what = f"{request.method} /{request.path}" + (f"?comp={request.comp}" if request.comp else "")
    return error(501, "NotImplemented", f"The requested operation is not implemented by Overcast's Blob endpoint: "
                 f"{what}. See docs/storage-api.md.")


def container_not_found() -> StorageApiError:
    return error(404, "ContainerNotFound", "The specified container does not exist.")


def blob_not_found() -> StorageApiError:
    return error(404, "BlobNotFound", "The specified blob does not exist.")


def store_error(exc: StoreError) -> StorageApiError:
    text = str(exc)
    if "container name" in text.lower():
        return error(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
    if "metadata" in text.lower():
        return error(400, "InvalidMetadata", "The metadata specified is invalid. It has characters that are not "
                     "permitted.")
    return error(400, "InvalidInput", f"One of the request inputs is not valid: {text}")


class BlobService:
    def __init__(self, env: ServiceEnv) -> None:
        self.env = env
        self.blobs = env.stores.blobs

    async def __call__(self, request: StorageRequest) -> StorageResponse:
        container, name = request.resource
        try:
            if not container:
                return await self._account(request)
            if not name:
                return await self._container(request, container)
            return await self._blob(request, container, name)
        except StoreError as exc:
            raise store_error(exc) from exc

    # -- account ------------------------------------------------------------------------------------------------

    async def _account(self, request: StorageRequest) -> StorageResponse:
        if request.method == "GET" and request.comp == "list":
            authorize(request, "l", "s")
            return await self._list_containers(request)
        raise not_implemented(request)

    async def _list_containers(self, request: StorageRequest) -> StorageResponse:
        prefix = request.query.get("prefix", "")
        limit = _max_results(request)
        marker = request.query.get("marker", "")
        names = [n for n in await self.env.io(self.blobs.containers) if n.startswith(prefix) and n >= marker]
        page, next_marker = names[:limit], (names[limit] if len(names) > limit else "")
        items = []
        for name in page:
            items.append("<Container>" + element("Name", name) + "<Properties>" + elements([
                ("Last-Modified", http_date(0)), ("Etag", '"0x8D0000000000000"'), ("LeaseStatus", "unlocked"),
                ("LeaseState", "available"), ("HasImmutabilityPolicy", "false"), ("HasLegalHold", "false"),
            ]) + "</Properties></Container>")
        body = (f'{XML_HEAD}<EnumerationResults ServiceEndpoint="{_endpoint(request)}">'
                + element("Prefix", prefix) + element("Marker", marker) + element("MaxResults", limit)
                + "<Containers>" + "".join(items) + "</Containers>" + element("NextMarker", next_marker)
                + "</EnumerationResults>")
        return StorageResponse(200, dict(XML), body.encode())

    # -- containers ---------------------------------------------------------------------------------------------

    async def _container(self, request: StorageRequest, container: str) -> StorageResponse:
        if request.method == "GET" and request.comp == "list" and request.restype == "container":
            authorize(request, "l", "c")
            return await self._list_blobs(request, container)
        raise not_implemented(request)

    async def _list_blobs(self, request: StorageRequest, container: str) -> StorageResponse:
        if container not in await self.env.io(self.blobs.containers):
            raise container_not_found()
        prefix = request.query.get("prefix", "")
        delimiter = request.query.get("delimiter", "")
        marker = request.query.get("marker", "")
        limit = _max_results(request)
        include = set(filter(None, request.query.get("include", "").split(",")))
        entries: list[str] = []
        next_marker = ""
        seen_prefixes: set[str] = set()
        for props in await self.env.io(self.blobs.list, container, prefix):
            if props.name < marker:
                continue
            key = props.name
            if delimiter:
                cut = props.name.find(delimiter, len(prefix))
                if cut >= 0:
                    key = props.name[:cut + len(delimiter)]
                    if key in seen_prefixes:
                        continue
            if len(entries) == limit:
                next_marker = key
                break
            if key != props.name:
                seen_prefixes.add(key)
                entries.append("<BlobPrefix>" + element("Name", key) + "</BlobPrefix>")
            else:
                entries.append(_blob_xml(props, "metadata" in include))
        body = (f'{XML_HEAD}<EnumerationResults ServiceEndpoint="{_endpoint(request)}" '
                f'ContainerName="{container}">' + element("Prefix", prefix) + element("Marker", marker)
                + element("MaxResults", limit) + (element("Delimiter", delimiter) if delimiter else "")
                + "<Blobs>" + "".join(entries) + "</Blobs>" + element("NextMarker", next_marker)
                + "</EnumerationResults>")
        return StorageResponse(200, dict(XML), body.encode())

    # -- blobs --------------------------------------------------------------------------------------------------

    async def _blob(self, request: StorageRequest, container: str, name: str) -> StorageResponse:
        method, comp = request.method, request.comp
        if method == "PUT" and not comp:
            authorize(request, "wc", "o")
            return await self._put_blob(request, container, name)
        if method in ("GET", "HEAD") and not comp:
            authorize(request, "r", "o")
            return await self._get_blob(request, container, name)
        if method == "DELETE" and not comp:
            authorize(request, "d", "o")
            if not await self.env.io(self.blobs.delete, container, name):
                raise blob_not_found()
            return StorageResponse(202, {"x-ms-delete-type-permanent": "true"})
        raise not_implemented(request)

    async def _put_blob(self, request: StorageRequest, container: str, name: str) -> StorageResponse:
        blob_type = request.header("x-ms-blob-type", "")
        if blob_type != "BlockBlob":
            raise not_implemented(request)
        content_type = request.header("x-ms-blob-content-type") or request.header("content-type") or \
            "application/octet-stream"
        metadata = {k[len("x-ms-meta-"):]: v for k, v in request.headers.items() if k.startswith("x-ms-meta-")}
        props = await self.env.io(self._write, container, name, request.body, content_type, metadata)
        md5 = base64.b64encode(hashlib.md5(request.body).digest()).decode()
        return StorageResponse(201, {"ETag": props.etag, "Last-Modified": http_date(props.last_modified),
                                     "Content-MD5": md5, "x-ms-request-server-encrypted": "true"})

    def _write(self, container: str, name: str, data: bytes, content_type: str,
               metadata: dict[str, str]) -> BlobProperties:
        props = self.blobs.put(container, name, data, content_type=content_type, metadata=metadata)
        if self.env.blob_written is not None:
            self.env.blob_written(props)
        return props

    async def _get_blob(self, request: StorageRequest, container: str, name: str) -> StorageResponse:
        found = await self.env.io(self.blobs.get, container, name)
        if found is None:
            raise blob_not_found()
        data, props = found
        headers = _blob_headers(props)
        status = 200
        span = request.header("x-ms-range") or request.header("range")
        if span and request.method == "GET":
            start, end = _parse_range(span, len(data))
            if start >= len(data):
                raise error(416, "InvalidRange", "The range specified is invalid for the current size of the "
                            "resource.", )
            data = data[start:end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{props.length}"
            status = 206
        headers["Content-Length"] = str(props.length if request.method == "HEAD" else len(data))
        return StorageResponse(status, headers, data)


def _blob_headers(props: BlobProperties) -> dict[str, str]:
    headers = {"ETag": props.etag, "Last-Modified": http_date(props.last_modified), "Content-Type":
               props.content_type, "x-ms-blob-type": "BlockBlob", "x-ms-lease-status": "unlocked",
               "x-ms-lease-state": "available", "x-ms-server-encrypted": "true", "Accept-Ranges": "bytes",
               "x-ms-creation-time": http_date(props.last_modified)}
    for key, value in props.metadata.items():
        headers[f"x-ms-meta-{key}"] = value
    return headers


def _parse_range(text: str, length: int) -> tuple[int, int]:
    unit, _, span = text.partition("=")
    first, _, last = span.partition("-")
    if unit.strip() != "bytes" or not first.strip().isdigit() or (last.strip() and not last.strip().isdigit()):
        raise error(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
    start = int(first)
    end = int(last) if last.strip() else length - 1
    return start, min(end, length - 1)


def _blob_xml(props: BlobProperties, with_metadata: bool) -> str:
    return ("<Blob>" + element("Name", props.name) + "<Properties>" + elements([
        ("Creation-Time", http_date(props.last_modified)), ("Last-Modified", http_date(props.last_modified)),
        ("Etag", props.etag), ("Content-Length", props.length), ("Content-Type", props.content_type),
        ("Content-Encoding", ""), ("Content-Language", ""), ("Content-MD5", ""), ("Cache-Control", ""),
        ("Content-Disposition", ""), ("BlobType", "BlockBlob"), ("AccessTier", "Hot"),
        ("AccessTierInferred", "true"), ("LeaseStatus", "unlocked"), ("LeaseState", "available"),
        ("ServerEncrypted", "true"),
    ]) + "</Properties>" + (metadata_xml(props.metadata) if with_metadata else "") + "</Blob>")


def _endpoint(request: StorageRequest) -> str:
    host = request.header("host", "127.0.0.1")
    return f"http://{host}/{request.account}/"


def _max_results(request: StorageRequest) -> int:
    raw = request.query.get("maxresults", "")
    if not raw:
        return MAX_RESULTS
    if not raw.isdigit() or int(raw) < 1:
        raise invalid_query("maxresults", raw)
    return min(int(raw), MAX_RESULTS)


def make_blob_service(env: ServiceEnv) -> Handler:
    return BlobService(env)


__all__: list[Any] = ["make_blob_service"]
