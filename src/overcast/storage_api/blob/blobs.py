"""The Blob service's blob operations: put, blocks, append, download with ranges, properties, metadata, delete,
copy, leases and listing. A blob written here is told to the instance's blob triggers at once (as an output
binding's write is).

Uploads stream: the request body goes to the store as it arrives (the store call runs in a store thread and pulls
each piece from the event loop), checked against a transactional Content-MD5 on the way. Downloads stream too:
the store's reader of one version, whole or a range, is sent chunk by chunk and released when the response ends.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from overcast.backends.blob_api_store import BlobInfo, BlobWrite, Conditions
from overcast.backends.blob_events import PublishingBlobStore
from overcast.backends.blob_store import BlobReader
from overcast.errors import BlobApiRefusal
from overcast.storage_api.blob import protocol as p
from overcast.storage_api.blob.xmlout import XML_HEAD, element, elements, http_date, metadata_xml
from overcast.storage_api.errors import error, invalid_header
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.streaming import OffLoopChunks

XML = {"Content-Type": "application/xml"}
_READ_PUBLIC = ("blob", "container")
RANGE_MD5_LIMIT = 4 * 1024 * 1024  # x-ms-range-get-content-md5 is refused for larger ranges, as Azure does


def body(request: StorageRequest, empty: bool = False) -> Iterator[bytes]:
    """The request body for the store, checked on the way: a transactional Content-MD5 must match it (checked at
    its end, before the store commits), and ``empty`` refuses any byte (an append blob's creation)."""
    given = request.header("content-md5")
    digest = hashlib.md5() if given else None
    received = 0
    for chunk in request.chunks():
        received += len(chunk)
        if empty:
            raise invalid_header("Content-Length", str(received))
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if digest is not None and base64.b64encode(digest.digest()).decode() != given:
        raise error(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value "
                    "calculated by the server.", UserSpecifiedMd5=given or "",
                    ServerCalculatedMd5=base64.b64encode(digest.digest()).decode())


class BlobOperations:
    def __init__(self, service: Any) -> None:  # the BlobService (its store, pool, access checks, lease replies)
        self.service = service
        self.store = service.store

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await self.service.call(fn, *args)

    def _events(self) -> PublishingBlobStore | None:
        """The account's blob events (Event Grid's storage topic): the bindings' writes publish theirs through this
        wrapper of the same blobs; the API's own operations announce theirs to it."""
        events = self.service.env.stores.blobs
        return events if isinstance(events, PublishingBlobStore) else None

    def _announce(self, kind: str, props: Any, api: str) -> None:
        events = self._events()
        if events is not None:
            events.announce(kind, props, api)

    async def _written(self, fn: Any, *args: Any, api: str | None = None) -> BlobInfo:
        """A write, then the blob triggers of this instance hear of it (both on the store pool); ``api`` names the
        operation when Azure publishes a BlobCreated event for it (put, put block list, copy)."""
        hook = self.service.env.blob_written

        def run() -> BlobInfo:
            info: BlobInfo = fn(*args)
            if hook is not None:
                hook(info.props)
            if api is not None:
                self._announce("BlobCreated", info.props, api)
            return info

        return await self._call(run)  # type: ignore[no-any-return]

    async def _delete(self, container: str, name: str, cond: Conditions) -> None:
        def run() -> None:
            events = self._events()
            # Read first only while an app subscribes: the event carries the deleted blob's properties.
            before = self.store.blob_info(container, name, Conditions()) if events and events.enabled() else None
            self.store.delete_blob(container, name, cond)
            if before is not None:
                self._announce("BlobDeleted", before.props, "DeleteBlob")

        await self._call(run)

    async def handle(self, request: StorageRequest, container: str, name: str) -> StorageResponse:
        method, comp = request.method, request.comp
        access = self.service.access
        cond = p.conditions(request)
        if method == "PUT" and not comp:
            if request.header("x-ms-copy-source"):
                await access(request, container, "wc", "o")
                return await self._copy(request, container, name, cond)
            await access(request, container, "wc", "o")
            return await self._put(request, container, name, cond)
        if method in ("GET", "HEAD") and comp in ("", "metadata"):
            await access(request, container, "r", "o", _READ_PUBLIC)
            if comp == "metadata":
                info = await self._call(self.store.blob_info, container, name, cond)
                return StorageResponse(200, {"ETag": info.props.etag, **p.meta_headers(info.props.metadata),
                                             "Last-Modified": http_date(info.props.last_modified)})
            return await self._get(request, container, name, cond)
        if method == "DELETE" and not comp:
            await access(request, container, "d", "o")
            if request.header("x-ms-delete-snapshots") == "only":
                raise error(404, "SnapshotsNotFound", "The specified blob has no snapshots.")
            await self._delete(container, name, cond)
            return StorageResponse(202, {"x-ms-delete-type-permanent": "true"})
        if method == "PUT" and comp == "block":
            await access(request, container, "wc", "o")
            block_id = request.query.get("blockid", "")
            if not block_id or len(block_id) > 64:
                raise error(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in "
                            "the request URI is invalid.", QueryParameterName="blockid", QueryParameterValue=block_id)
            staged = await self._call(self.store.stage_block, container, name, block_id, body(request), cond)
            return StorageResponse(201, {"Content-MD5": staged.md5, "x-ms-request-server-encrypted": "true"})
        if method == "PUT" and comp == "blocklist":
            await access(request, container, "w", "o")
            return await self._commit(request, container, name, cond)
        if method == "GET" and comp == "blocklist":
            await access(request, container, "r", "o", _READ_PUBLIC)
            return await self._block_list(request, container, name)
        if method == "PUT" and comp == "appendblock":
            await access(request, container, "wa", "o")
            position = p.int_header(request, "x-ms-blob-condition-appendpos")
            max_size = p.int_header(request, "x-ms-blob-condition-maxsize")
            offsets: list[int] = []

            def append() -> BlobInfo:
                appended, offset = self.store.append_block(container, name, body(request), cond, position, max_size)
                offsets.append(offset)
                return appended  # type: ignore[no-any-return]

            info = await self._written(append)
            headers = self._write_headers(info)
            headers["x-ms-blob-append-offset"] = str(offsets[0])
            headers["x-ms-blob-committed-block-count"] = str(info.committed_blocks)
            return StorageResponse(201, headers)
        if method == "PUT" and comp in ("metadata", "properties"):
            await access(request, container, "w", "o")
            if comp == "metadata":
                info = await self._written(self.store.set_blob_metadata, container, name, p.metadata(request), cond)
            else:
                info = await self._written(self.store.set_blob_headers, container, name,
                                           p.content_headers(request), cond)
            return StorageResponse(200, {"ETag": info.props.etag, "Last-Modified": http_date(info.props.last_modified)})
        if method == "PUT" and comp == "lease":
            await access(request, container, "w", "o")
            leased: StorageResponse = await self.service.lease(
                request, lambda *a: self.store.blob_lease(container, name, *a))
            return leased
        if method == "PUT" and comp == "copy":
            raise error(409, "NoPendingCopyOperation", "There is currently no pending copy operation.")
        raise p.not_implemented(request)

    def _write_headers(self, info: BlobInfo) -> dict[str, str]:
        return {"ETag": info.props.etag, "Last-Modified": http_date(info.props.last_modified),
                "x-ms-request-server-encrypted": "true"}

    async def _put(self, request: StorageRequest, container: str, name: str, cond: Conditions) -> StorageResponse:
        blob_type = request.header("x-ms-blob-type", "")
        if blob_type not in ("BlockBlob", "AppendBlob"):
            if blob_type == "PageBlob":
                raise p.not_implemented(request)
            raise error(400, "MissingRequiredHeader" if not blob_type else "InvalidHeaderValue",
                        "An HTTP header that's mandatory for this request is not specified.",
                        HeaderName="x-ms-blob-type")
        block = blob_type == "BlockBlob"
        headers = p.content_headers(request, put=block)
        write = BlobWrite(headers, p.metadata(request), blob_type, content_md5=block)
        info = await self._written(self.store.put_blob, container, name, body(request, empty=not block), write, cond,
                                   api="PutBlob" if block else None)
        out = self._write_headers(info)
        if info.headers.content_md5:
            out["Content-MD5"] = info.headers.content_md5
        return StorageResponse(201, out)

    async def _get(self, request: StorageRequest, container: str, name: str, cond: Conditions) -> StorageResponse:
        try:
            if request.method == "HEAD":
                info = await self._call(self.store.blob_info, container, name, cond)
                headers = p.blob_headers(info)
                headers.update({"Content-Length": str(info.props.length), "x-ms-access-tier": "Hot",
                                "x-ms-access-tier-inferred": "true"})
                return StorageResponse(200, headers)
            reader, info = await self._call(self.store.read_blob, container, name, cond)
        except BlobApiRefusal as exc:
            if exc.code == "NotModified":
                return StorageResponse(304, {"x-ms-error-code": "ConditionNotMet"})
            raise
        try:
            return await self._download(request, reader, info)
        except BaseException:
            await self._call(reader.close)
            raise

    async def _download(self, request: StorageRequest, reader: BlobReader, info: BlobInfo) -> StorageResponse:
        length = info.props.length
        span = request.header("x-ms-range") or request.header("range")
        if not span:
            stream = OffLoopChunks(reader.chunks(), reader.close, self.service.call)
            return StorageResponse(200, {**p.blob_headers(info), "Content-Length": str(length)}, stream=stream)
        chosen = p.parse_range(span, length)
        if chosen is None:
            raise p.range_not_satisfiable()
        start, end = chosen
        size = end + 1 - start
        headers = p.blob_headers(info, with_md5=False)
        if info.headers.content_md5:
            headers["x-ms-blob-content-md5"] = info.headers.content_md5
        headers["Content-Range"] = f"bytes {start}-{end}/{length}"
        headers["Content-Length"] = str(size)
        if (request.header("x-ms-range-get-content-md5") or "").lower() == "true":
            if size > RANGE_MD5_LIMIT:
                raise error(400, "OutOfRangeInput", "One of the request inputs is out of range.")
            part: bytes = await self._call(reader.read, start, size)  # at most 4 MiB, and its MD5 goes first
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(part).digest()).decode()
            return StorageResponse(206, headers, part)
        return StorageResponse(206, headers, stream=OffLoopChunks(reader.chunks(start, size), reader.close,
                                                                  self.service.call))

    async def _commit(self, request: StorageRequest, container: str, name: str, cond: Conditions) -> StorageResponse:
        try:
            root = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            raise error(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
        blocks = [(node.tag, (node.text or "").strip()) for node in root]
        if any(tag not in ("Latest", "Committed", "Uncommitted") for tag, _ in blocks):
            raise error(400, "InvalidXmlNodeValue", "The value for one of the XML nodes is not in the correct format.")
        write = BlobWrite(p.content_headers(request), p.metadata(request), "BlockBlob")
        info = await self._written(self.store.commit_blocks, container, name, blocks, write, cond, api="PutBlockList")
        return StorageResponse(201, self._write_headers(info))

    async def _block_list(self, request: StorageRequest, container: str, name: str) -> StorageResponse:
        which = request.query.get("blocklisttype", "committed").lower()
        if which not in ("committed", "uncommitted", "all"):
            raise error(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                        "request URI is invalid.", QueryParameterName="blocklisttype", QueryParameterValue=which)
        committed, uncommitted, info = await self._call(self.store.block_list, container, name, which,
                                                        request.header("x-ms-lease-id"))

        def blocks(items: list[Any]) -> str:
            return "".join("<Block>" + element("Name", b.block_id) + element("Size", b.size) + "</Block>"
                           for b in items)

        body = (f"{XML_HEAD}<BlockList><CommittedBlocks>{blocks(committed)}</CommittedBlocks>"
                f"<UncommittedBlocks>{blocks(uncommitted)}</UncommittedBlocks></BlockList>")
        headers = dict(XML)
        if info is not None:
            headers.update({"ETag": info.props.etag, "Last-Modified": http_date(info.props.last_modified),
                            "x-ms-blob-content-length": str(info.props.length)})
        return StorageResponse(200, headers, body.encode())

    async def _copy(self, request: StorageRequest, container: str, name: str, cond: Conditions) -> StorageResponse:
        source_url = request.header("x-ms-copy-source", "") or ""
        parts = urlsplit(source_url)
        path = unquote(parts.path).lstrip("/")
        account, _, rest = path.partition("/")
        src_container, _, src_name = rest.partition("/")
        if account != request.account or not src_container or not src_name:
            raise error(400 if not src_name else 501, "CannotVerifyCopySource" if src_name else "InvalidHeaderValue",
                        "Copies from outside this account are not supported by Overcast's Blob endpoint; copy "
                        "within devstoreaccount1." if src_name else "The copy source is not a blob URL.")
        metadata = p.metadata(request) or None
        try:
            info = await self._written(self.store.copy_blob, (src_container, src_name), (container, name), metadata,
                                       source_url, cond, p.conditions(request, "x-ms-source-"), api="CopyBlob")
        except BlobApiRefusal as exc:
            if exc.code == "BlobNotFound":  # the target's container exists: the source is what is missing
                raise error(404, "CannotVerifyCopySource", "The specified blob does not exist.") from None
            raise
        assert info.copy is not None
        headers = {**self._write_headers(info), "x-ms-copy-id": info.copy.copy_id, "x-ms-copy-status": "success"}
        return StorageResponse(202, headers)

    async def list_blobs(self, request: StorageRequest, container: str) -> StorageResponse:
        prefix = request.query.get("prefix", "")
        delimiter = request.query.get("delimiter", "")
        marker = request.query.get("marker", "")
        limit = p.max_results(request)
        include = set(filter(None, request.query.get("include", "").lower().split(",")))
        entries, next_marker = await self._call(self.store.list_blob_infos, container, prefix, marker, limit,
                                                delimiter)
        items = "".join(
            "<BlobPrefix>" + element("Name", e) + "</BlobPrefix>" if isinstance(e, str) else _blob_xml(e, include)
            for e in entries)
        body = (f'{XML_HEAD}<EnumerationResults ServiceEndpoint="{p.endpoint(request)}" '
                f'ContainerName="{container}">'
                + (element("Prefix", prefix) if prefix else "") + (element("Marker", marker) if marker else "")
                + (element("MaxResults", limit) if "maxresults" in request.query else "")
                + (element("Delimiter", delimiter) if delimiter else "")
                + "<Blobs>" + items + "</Blobs>" + element("NextMarker", next_marker) + "</EnumerationResults>")
        return StorageResponse(200, dict(XML), body.encode())


def _blob_xml(info: BlobInfo, include: set[str]) -> str:
    props, h = info.props, info.headers
    rows: list[tuple[str, object]] = [
        ("Creation-Time", http_date(info.created)), ("Last-Modified", http_date(props.last_modified)),
        ("Etag", props.etag), ("Content-Length", props.length), ("Content-Type", h.content_type),
        ("Content-Encoding", h.content_encoding), ("Content-Language", h.content_language),
        ("Content-CRC64", ""), ("Content-MD5", h.content_md5), ("Cache-Control", h.cache_control),
        ("Content-Disposition", h.content_disposition), ("BlobType", info.blob_type), ("AccessTier", "Hot"),
        ("AccessTierInferred", "true"), ("LeaseStatus", info.lease.status), ("LeaseState", info.lease.state)]
    if info.lease.state == "leased":
        rows.append(("LeaseDuration", info.lease.duration))
    if info.copy is not None and "copy" in include:
        rows += [("CopyId", info.copy.copy_id), ("CopyStatus", info.copy.status), ("CopySource", info.copy.source),
                 ("CopyProgress", info.copy.progress), ("CopyCompletionTime", http_date(info.copy.completed))]
    rows.append(("ServerEncrypted", "true"))
    return ("<Blob>" + element("Name", props.name) + "<Properties>" + elements(rows) + "</Properties>"
            + (metadata_xml(props.metadata) if "metadata" in include else "") + "</Blob>")
