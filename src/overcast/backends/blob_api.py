"""The Blob API's rules, written once over a backend's transaction (:class:`BlobApiTx`).

Conditions (``If-Match`` and friends), the lease state machine of blobs and containers (as the REST reference's
"Lease Blob" / "Lease Container" tables give it), committing block lists, append blobs and copies. A backend mixes
:class:`BlobApi` into its blob store and provides ``transaction()``; every public method is one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from overcast.backends.blob_api_rules import check_conditions, check_lease, effective_lease, lease_doc, lease_step
from overcast.backends.blob_api_store import (
    BlobApiTx,
    BlobInfo,
    BlobWrite,
    Block,
    BlockListType,
    Conditions,
    ContainerInfo,
    Content,
    ContentHeaders,
    CopyInfo,
    Doc,
    LeaseAction,
    LeaseResult,
    Part,
    SignedIdentifier,
)
from overcast.backends.blob_store import BlobProperties, BlobReader, as_chunks, new_etag
from overcast.backends.names import validate_blob_name, validate_container_name, validate_metadata
from overcast.errors import BlobApiRefusal, StoreError

MAX_APPEND_BLOCKS = 50_000
# A Get Blob reads the blob, then checks its conditions; a write in between makes it read again, this often at most.
_READ_ATTEMPTS = 20


def new_container_doc(now: float, metadata: Mapping[str, str] | None = None, public_access: str = "") -> Doc:
    return {"etag": new_etag(), "modified": now, "metadata": dict(metadata or {}), "public": public_access,
            "acl": [], "lease": {}}


# -- values ------------------------------------------------------------------------------------------------------


def container_info(name: str, doc: Doc, now: float) -> ContainerInfo:
    identifiers = tuple(SignedIdentifier(*row) for row in doc.get("acl", []))
    return ContainerInfo(name, doc["etag"], float(doc["modified"]), dict(doc.get("metadata", {})),
                         doc.get("public", ""), effective_lease(doc, now), identifiers)


def blob_info(props: BlobProperties, doc: Doc, now: float) -> BlobInfo:
    headers = ContentHeaders(props.content_type, *(doc.get("headers") or ["", "", "", "", ""]))
    copy = CopyInfo(*doc["copy"]) if doc.get("copy") else None
    created = float(doc.get("created", props.last_modified.timestamp()))
    return BlobInfo(props, doc.get("type", "BlockBlob"), headers, created, effective_lease(doc, now),
                    int(doc.get("appends", 0)), copy)


def _headers_doc(headers: ContentHeaders) -> list[str]:
    return [headers.content_encoding, headers.content_language, headers.content_disposition, headers.cache_control,
            headers.content_md5]


class BlobApi:
    """The Blob API operations over ``self.transaction()`` (a backend's blob store mixes this in)."""

    def transaction(self) -> AbstractContextManager[BlobApiTx]:  # pragma: no cover - every backend provides it
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by the backend (upload) and by the blob store it extends (open_read)
        def upload(self, container: str, name: str,
                   chunks: Iterable[bytes]) -> AbstractContextManager[tuple[BlobApiTx, Content]]: ...

        def open_read(self, container: str, name: str) -> BlobReader | None: ...

    # -- containers --------------------------------------------------------------------------------------------

    def create_container(self, name: str, metadata: Mapping[str, str], public_access: str) -> ContainerInfo:
        validate_container_name(name)
        checked = validate_metadata(metadata, name)
        with self.transaction() as tx:
            if tx.container(name) is not None:
                raise BlobApiRefusal("ContainerAlreadyExists")
            doc = new_container_doc(tx.now, checked, public_access)
            tx.put_container(name, doc)
            return container_info(name, doc, tx.now)

    def _container(self, tx: BlobApiTx, name: str) -> Doc:
        validate_container_name(name)
        doc = tx.container(name)
        if doc is None:
            raise BlobApiRefusal("ContainerNotFound")
        return doc

    def container_info(self, name: str, lease_id: str | None = None) -> ContainerInfo | None:
        with self.transaction() as tx:
            validate_container_name(name)
            doc = tx.container(name)
            if doc is None:
                return None
            info = container_info(name, doc, tx.now)
            check_lease(info.lease, lease_id, "Container", write=False)
            return info

    def list_containers(self, prefix: str, marker: str, limit: int) -> tuple[list[ContainerInfo], str]:
        with self.transaction() as tx:
            names = [n for n in tx.container_names() if n.startswith(prefix) and n >= marker]
            page = [container_info(n, doc, tx.now) for n in names[:limit] if (doc := tx.container(n)) is not None]
            return page, names[limit] if len(names) > limit else ""

    def _container_write(self, tx: BlobApiTx, name: str, cond: Conditions) -> Doc:
        doc = self._container(tx, name)
        check_lease(effective_lease(doc, tx.now), cond.lease_id, "Container", write=True)
        check_conditions(doc["etag"], doc["modified"], cond, read=False)
        return doc

    def delete_container(self, name: str, cond: Conditions) -> None:
        with self.transaction() as tx:
            self._container_write(tx, name, cond)
            tx.drop_container(name)

    def set_container_metadata(self, name: str, metadata: Mapping[str, str], cond: Conditions) -> ContainerInfo:
        checked = validate_metadata(metadata, name)
        with self.transaction() as tx:
            doc = self._container(tx, name)
            check_lease(effective_lease(doc, tx.now), cond.lease_id, "Container", write=False)
            check_conditions(doc["etag"], doc["modified"], cond, read=False)
            doc.update(metadata=checked, etag=new_etag(), modified=tx.now)
            tx.put_container(name, doc)
            return container_info(name, doc, tx.now)

    def set_container_acl(self, name: str, public_access: str, identifiers: Sequence[SignedIdentifier],
                          cond: Conditions) -> ContainerInfo:
        with self.transaction() as tx:
            doc = self._container(tx, name)
            check_lease(effective_lease(doc, tx.now), cond.lease_id, "Container", write=False)
            check_conditions(doc["etag"], doc["modified"], cond, read=False)
            acl = [[i.id, i.start, i.expiry, i.permissions] for i in identifiers]
            doc.update(public=public_access, acl=acl, etag=new_etag(), modified=tx.now)
            tx.put_container(name, doc)
            return container_info(name, doc, tx.now)

    def container_lease(self, name: str, action: LeaseAction, cond: Conditions, proposed: str | None,
                        duration: int, break_period: int | None) -> LeaseResult:
        with self.transaction() as tx:
            doc = self._container(tx, name)
            check_conditions(doc["etag"], doc["modified"], cond, read=False)
            lease, wait = lease_step(effective_lease(doc, tx.now), action, cond.lease_id, proposed, duration,
                                     break_period, tx.now)
            doc["lease"] = lease_doc(lease)
            tx.put_container(name, doc)
            return LeaseResult(lease.lease_id, doc["etag"], float(doc["modified"]), wait)

    # -- blobs -------------------------------------------------------------------------------------------------

    def _blob(self, tx: BlobApiTx, container: str, name: str) -> tuple[BlobProperties, Doc]:
        self._container(tx, container)
        found = tx.blob(container, name)
        if found is None:
            raise BlobApiRefusal("BlobNotFound")
        return found

    def blob_info(self, container: str, name: str, cond: Conditions | None = None) -> BlobInfo:
        with self.transaction() as tx:
            props, doc = self._blob(tx, container, name)
            info = blob_info(props, doc, tx.now)
            if cond is not None:
                check_lease(info.lease, cond.lease_id, "Blob", write=False)
                check_conditions(props.etag, props.last_modified.timestamp(), cond, read=True)
            return info

    def read_blob(self, container: str, name: str, cond: Conditions) -> tuple[BlobReader, BlobInfo]:
        validate_container_name(container)
        validate_blob_name(name)
        for _ in range(_READ_ATTEMPTS):
            # The reader first (it pins one version), then the checks; the same ETag proves they saw one version.
            reader = self.open_read(container, name)
            try:
                with self.transaction() as tx:
                    props, doc = self._blob(tx, container, name)
                    info = blob_info(props, doc, tx.now)
                    check_lease(info.lease, cond.lease_id, "Blob", write=False)
                    check_conditions(props.etag, props.last_modified.timestamp(), cond, read=True)
                if reader is not None and reader.properties.etag == props.etag:
                    return reader, info
            except BaseException:
                if reader is not None:
                    reader.close()
                raise
            if reader is not None:
                reader.close()
        raise StoreError(f"Blob '{container}/{name}' changed during each of {_READ_ATTEMPTS} reads; retry.")

    def _prepare_write(self, tx: BlobApiTx, container: str, name: str, cond: Conditions) -> Doc:
        """The existing blob's document (to keep its lease) after the container, lease and condition checks."""
        self._container(tx, container)
        found = tx.blob(container, name)
        if found is None:
            check_conditions(None, None, cond, read=False)
            if cond.lease_id is not None:
                raise BlobApiRefusal("LeaseNotPresentWithBlobOperation")
            return {}
        props, doc = found
        check_lease(effective_lease(doc, tx.now), cond.lease_id, "Blob", write=True)
        check_conditions(props.etag, props.last_modified.timestamp(), cond, read=False)
        return doc

    def _write(self, tx: BlobApiTx, container: str, name: str, content: Content, write: BlobWrite, old: Doc,
               extra: Doc | None = None) -> BlobInfo:
        metadata = validate_metadata(write.metadata, name)
        headers = write.headers
        if write.content_md5 and not headers.content_md5:
            headers = replace(headers, content_md5=content.md5)
        doc: Doc = {"type": write.blob_type, "headers": _headers_doc(headers), "created": tx.now,
                    "lease": old.get("lease") or {}, **(extra or {})}
        props = tx.write(container, name, content, headers.content_type, metadata, doc)
        return blob_info(props, doc, tx.now)

    def put_blob(self, container: str, name: str, chunks: Iterable[bytes], write: BlobWrite,
                 cond: Conditions) -> BlobInfo:
        validate_container_name(container)
        validate_blob_name(name)
        with self.upload(container, name, as_chunks(chunks)) as (tx, content):
            old = self._prepare_write(tx, container, name, cond)
            info = self._write(tx, container, name, content, write, old)
            tx.unstage(container, name)
            return info

    def _update(self, container: str, name: str, cond: Conditions, change: Any) -> BlobInfo:
        with self.transaction() as tx:
            props, doc = self._blob(tx, container, name)
            check_lease(effective_lease(doc, tx.now), cond.lease_id, "Blob", write=True)
            check_conditions(props.etag, props.last_modified.timestamp(), cond, read=False)
            content_type, metadata = change(props, doc)
            doc.setdefault("created", props.last_modified.timestamp())
            new = tx.write(container, name, None, content_type, metadata, doc)
            return blob_info(new, doc, tx.now)

    def set_blob_headers(self, container: str, name: str, headers: ContentHeaders, cond: Conditions) -> BlobInfo:
        def change(props: BlobProperties, doc: Doc) -> tuple[str, Mapping[str, str]]:
            doc["headers"] = _headers_doc(headers)
            return headers.content_type, props.metadata

        return self._update(container, name, cond, change)

    def set_blob_metadata(self, container: str, name: str, metadata: Mapping[str, str],
                          cond: Conditions) -> BlobInfo:
        checked = validate_metadata(metadata, name)
        return self._update(container, name, cond, lambda props, doc: (props.content_type, checked))

    def delete_blob(self, container: str, name: str, cond: Conditions) -> None:
        with self.transaction() as tx:
            props, doc = self._blob(tx, container, name)
            check_lease(effective_lease(doc, tx.now), cond.lease_id, "Blob", write=True)
            check_conditions(props.etag, props.last_modified.timestamp(), cond, read=False)
            tx.drop_blob(container, name)
            tx.unstage(container, name)

    def list_blob_infos(self, container: str, prefix: str, marker: str, limit: int,
                        delimiter: str) -> tuple[list[BlobInfo | str], str]:
        with self.transaction() as tx:
            self._container(tx, container)
            entries: list[BlobInfo | str] = []
            rolled: str | None = None
            for props, doc in tx.blobs(container, prefix, marker, 1 << 62):
                cut = props.name.find(delimiter, len(prefix)) if delimiter else -1
                key = props.name[:cut + len(delimiter)] if cut >= 0 else props.name
                if cut >= 0 and key == rolled:
                    continue
                if len(entries) == limit:
                    return entries, key
                if cut >= 0:
                    rolled = key
                    entries.append(key)
                else:
                    entries.append(blob_info(props, doc, tx.now))
            return entries, ""

    # -- blocks ------------------------------------------------------------------------------------------------

    def stage_block(self, container: str, name: str, block_id: str, chunks: Iterable[bytes],
                    cond: Conditions) -> Content:
        validate_container_name(container)
        validate_blob_name(name)
        with self.upload(container, name, as_chunks(chunks)) as (tx, content):
            self._container(tx, container)
            found = tx.blob(container, name)
            if found is not None:
                check_lease(effective_lease(found[1], tx.now), cond.lease_id, "Blob", write=True)
            elif cond.lease_id is not None:
                raise BlobApiRefusal("LeaseNotPresentWithBlobOperation")
            tx.stage(container, name, block_id, content)
            return content

    def commit_blocks(self, container: str, name: str, blocks: Sequence[tuple[str, str]], write: BlobWrite,
                      cond: Conditions) -> BlobInfo:
        with self.transaction() as tx:
            old = self._prepare_write(tx, container, name, cond)
            staged = {block_id: (content, 0, content.length) for block_id, content in
                      tx.staged(container, name).items()}
            committed: dict[str, Part] = {}
            current = tx.content(container, name) if old.get("blocks") else None
            if current is not None:
                offset = 0
                for block_id, size in old["blocks"]:
                    committed[block_id] = (current, offset, size)
                    offset += size
            parts: list[Part] = []
            for where, block_id in blocks:
                sources = {"Committed": (committed,), "Uncommitted": (staged,),
                           "Latest": (staged, committed)}.get(where, (staged, committed))
                part = next((source[block_id] for source in sources if block_id in source), None)
                if part is None:
                    raise BlobApiRefusal("InvalidBlockList")
                parts.append(part)
            listed = [[block_id, part[2]] for (_, block_id), part in zip(blocks, parts, strict=True)]
            content = tx.compose(container, parts)  # copied inside the store, before the staged blocks go
            info = self._write(tx, container, name, content, write, old, {"blocks": listed})
            tx.unstage(container, name)
            return info

    def block_list(self, container: str, name: str, which: BlockListType,
                   lease_id: str | None) -> tuple[list[Block], list[Block], BlobInfo | None]:
        with self.transaction() as tx:
            self._container(tx, container)
            found = tx.blob(container, name)
            staged = tx.staged(container, name)
            if found is None and not staged:
                raise BlobApiRefusal("BlobNotFound")
            info = blob_info(*found, tx.now) if found is not None else None
            if info is not None:
                check_lease(info.lease, lease_id, "Blob", write=False)
            committed = [Block(b, s) for b, s in (found[1].get("blocks") or [])] if found else []
            uncommitted = [Block(b, content.length) for b, content in staged.items()]
            return (committed if which != "uncommitted" else [],
                    uncommitted if which != "committed" else [], info)

    def append_block(self, container: str, name: str, chunks: Iterable[bytes], cond: Conditions,
                     append_position: int | None, max_size: int | None) -> tuple[BlobInfo, int]:
        validate_container_name(container)
        validate_blob_name(name)
        with self.upload(container, name, as_chunks(chunks)) as (tx, added):
            props, doc = self._blob(tx, container, name)
            if doc.get("type") != "AppendBlob":
                raise BlobApiRefusal("InvalidBlobType")
            check_lease(effective_lease(doc, tx.now), cond.lease_id, "Blob", write=True)
            check_conditions(props.etag, props.last_modified.timestamp(), cond, read=False)
            if max_size is not None and props.length + added.length > max_size:
                raise BlobApiRefusal("MaxBlobSizeConditionNotMet")
            if append_position is not None and append_position != props.length:
                raise BlobApiRefusal("AppendPositionConditionNotMet")
            if int(doc.get("appends", 0)) >= MAX_APPEND_BLOCKS:
                raise BlobApiRefusal("BlockCountExceedsLimit")
            doc["appends"] = int(doc.get("appends", 0)) + 1
            current = tx.content(container, name)
            parts: list[Part] = [(added, 0, added.length)]
            if current is not None and current.length:
                parts.insert(0, (current, 0, current.length))
            content = tx.compose(container, parts)
            new = tx.write(container, name, content, props.content_type, props.metadata, doc)
            return blob_info(new, doc, tx.now), props.length

    def copy_blob(self, source: tuple[str, str], target: tuple[str, str], metadata: Mapping[str, str] | None,
                  source_url: str, cond: Conditions, source_cond: Conditions) -> BlobInfo:
        with self.transaction() as tx:
            src_props, src_doc = self._blob(tx, *source)
            check_conditions(src_props.etag, src_props.last_modified.timestamp(), source_cond, read=False)
            old = self._prepare_write(tx, *target, cond)
            found = tx.content(*source)
            parts: list[Part] = [] if found is None or not found.length else [(found, 0, found.length)]
            content = tx.compose(target[0], parts)
            src = blob_info(src_props, src_doc, tx.now)
            write = BlobWrite(src.headers, src_props.metadata if metadata is None else metadata, src.blob_type)
            size = content.length
            copy = [str(uuid.uuid4()), source_url, "success", tx.now, f"{size}/{size}"]
            extra = {"copy": copy, "blocks": src_doc.get("blocks") or [], "appends": src_doc.get("appends", 0)}
            return self._write(tx, *target, content, write, old, extra)

    def blob_lease(self, container: str, name: str, action: LeaseAction, cond: Conditions, proposed: str | None,
                   duration: int, break_period: int | None) -> LeaseResult:
        with self.transaction() as tx:
            props, doc = self._blob(tx, container, name)
            check_conditions(props.etag, props.last_modified.timestamp(), cond, read=False)
            lease, wait = lease_step(effective_lease(doc, tx.now), action, cond.lease_id, proposed, duration,
                                     break_period, tx.now)
            doc["lease"] = lease_doc(lease)
            doc.setdefault("created", props.last_modified.timestamp())
            tx.write(container, name, None, props.content_type, props.metadata, doc, new_etag=False)
            return LeaseResult(lease.lease_id, props.etag, props.last_modified.timestamp(), wait)
