"""The Blob API store: what the Blob REST endpoint needs beyond the bindings' :class:`BlobStore`.

Containers as objects (metadata, public access, stored access policies, leases), blob properties Azure keeps
(blob type, content headers with Content-MD5, creation time, leases, copy status), staged blocks, append blobs, and
conditional writes, each operation one atomic step of the store. It extends the blob store of the same backend,
so bindings, blob triggers and the endpoint see the same blobs: a blob written by a binding is a block blob with
default properties, and the extra properties of a blob are kept with the ETag they belong to, so a binding's
later overwrite leaves no stale headers behind.

The rules (conditions, the lease state machine, committing a block list) are written once in
:mod:`overcast.backends.blob_api` over a small transaction each backend provides (:class:`BlobApiTx`). Refusals
raise :class:`overcast.errors.BlobApiRefusal` with Azure's error code.

Content never passes whole through Python: Put Blob, Put Block and Append Block take iterables of chunks, which the
backend stores as they come (:meth:`BlobApiStore.upload`) before the operation's transaction points at them; staged
blocks are stored content too; Put Block List, Append Block and Copy Blob make new content from ranges of stored
content inside the store (:meth:`BlobApiTx.compose`); Get Blob gives a :class:`BlobReader` over one version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from overcast.backends.blob_store import BlobProperties, BlobReader, BlobStore
from overcast.backends.changes import ChangeSource

Doc = dict[str, Any]  # the JSON document of a container's or blob's extra properties
LeaseAction = Literal["acquire", "renew", "change", "release", "break"]
BlockListType = Literal["committed", "uncommitted", "all"]
INFINITE = -1


@dataclass(frozen=True)
class Conditions:
    """A request's conditional headers (times in epoch seconds; Azure compares at whole seconds)."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None
    lease_id: str | None = None  # x-ms-lease-id: required when the resource is leased, else must be absent

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.if_match, self.if_none_match, self.if_modified_since,
                                          self.if_unmodified_since))


@dataclass(frozen=True)
class Lease:
    state: str = "available"  # available, leased, expired, breaking, broken
    duration: str = ""  # infinite, fixed ("" unless leased)
    lease_id: str = ""
    seconds: int = 0  # the fixed lease's length (for renew)
    expires: float = 0.0  # a fixed lease ends / a breaking lease breaks at this time

    @property
    def status(self) -> str:
        return "locked" if self.state in ("leased", "breaking") else "unlocked"


@dataclass(frozen=True)
class LeaseResult:
    lease_id: str
    etag: str
    last_modified: float
    lease_time: int | None = None  # seconds until a broken lease frees (break only)


@dataclass(frozen=True)
class SignedIdentifier:
    id: str
    start: str = ""
    expiry: str = ""
    permissions: str = ""


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    etag: str
    last_modified: float
    metadata: Mapping[str, str]
    public_access: str  # "", "blob" or "container"
    lease: Lease
    identifiers: tuple[SignedIdentifier, ...] = ()


@dataclass(frozen=True)
class ContentHeaders:
    content_type: str = "application/octet-stream"
    content_encoding: str = ""
    content_language: str = ""
    content_disposition: str = ""
    cache_control: str = ""
    content_md5: str = ""  # base64, as the Content-MD5 header


@dataclass(frozen=True)
class CopyInfo:
    copy_id: str
    source: str
    status: str  # "success": copies within the account complete at once
    completed: float
    progress: str


@dataclass(frozen=True)
class BlobInfo:
    props: BlobProperties
    blob_type: str  # BlockBlob or AppendBlob
    headers: ContentHeaders
    created: float
    lease: Lease
    committed_blocks: int = 0  # an append blob's block count
    copy: CopyInfo | None = None


@dataclass(frozen=True)
class Block:
    block_id: str  # base64, as the client sent it
    size: int


@dataclass(frozen=True)
class BlobWrite:
    """What Put Blob / Put Block List / Copy set besides the content."""

    headers: ContentHeaders = field(default_factory=ContentHeaders)
    metadata: Mapping[str, str] = field(default_factory=dict)
    blob_type: str = "BlockBlob"
    content_md5: bool = False  # Put Blob: Content-MD5 of the content as stored, unless the headers give one


@dataclass(frozen=True)
class Content:
    """Bytes stored in a backend: a blob's content, a staged block, an upload not yet committed.

    ``ref`` is the backend's handle: a content id (PostgreSQL chunks; SQLite ``<container>/<file>``), or the
    immutable bytes themselves (memory).
    """

    ref: str | bytes
    length: int
    md5: str = ""  # base64; set when the content was uploaded


Part = tuple[Content, int, int]  # (content, offset, length): a range of stored content


class BlobApiTx(Protocol):
    """One atomic step of a backend's Blob API store (the generic rules run inside it)."""

    now: float

    def container(self, name: str) -> Doc | None: ...

    def put_container(self, name: str, doc: Doc) -> None: ...

    def drop_container(self, name: str) -> None:
        """Remove the container with its blobs and staged blocks."""
        ...

    def container_names(self) -> list[str]: ...

    def blob(self, container: str, name: str) -> tuple[BlobProperties, Doc] | None:
        """The blob's properties and its extra document ({} when the document is missing or of an older ETag)."""
        ...

    def content(self, container: str, name: str) -> Content | None:
        """The blob's stored content (to copy ranges of it)."""
        ...

    def compose(self, container: str, parts: Sequence[Part]) -> Content:
        """New content for a blob of ``container``: the ranges ``parts`` one after the other, copied inside the
        store (never gathered in memory); it belongs to this transaction until written or staged."""
        ...

    def write(self, container: str, name: str, content: Content | None, content_type: str,
              metadata: Mapping[str, str], doc: Doc, new_etag: bool = True) -> BlobProperties:
        """Point the blob at ``content`` (None: keep its content) with these properties, releasing the content it
        had; a new ETag and last-modified time unless told not (a lease changes neither)."""
        ...

    def drop_blob(self, container: str, name: str) -> None: ...

    def blobs(self, container: str, prefix: str, after: str, limit: int) -> list[tuple[BlobProperties, Doc]]:
        """Up to ``limit`` blobs named from ``after`` (inclusive) on, starting with ``prefix``, by name."""
        ...

    def stage(self, container: str, name: str, block_id: str, content: Content) -> None:
        """Keep ``content`` as the staged block ``block_id`` (replacing a block staged under that id)."""
        ...

    def staged(self, container: str, name: str) -> dict[str, Content]:
        """The staged blocks, in the order they were staged."""
        ...

    def unstage(self, container: str, name: str) -> None: ...


class BlobApiStore(BlobStore, ChangeSource, Protocol):
    """A blob store with the Blob API's operations (implemented by :class:`overcast.backends.blob_api.BlobApi`).
    Its changes (:mod:`overcast.backends.changes`) are named by container: a blob written (binding or API)."""

    def transaction(self) -> AbstractContextManager[BlobApiTx]: ...

    def upload(self, container: str, name: str,
               chunks: Iterable[bytes]) -> AbstractContextManager[tuple[BlobApiTx, Content]]:
        """Store ``chunks`` as new content (consumed before the transaction starts), then a transaction in which
        to write or stage it. If the block raises, nothing stays: not the content, not the transaction's changes;
        content neither written nor staged is removed at the end."""
        ...

    def create_container(self, name: str, metadata: Mapping[str, str], public_access: str) -> ContainerInfo: ...

    def container_info(self, name: str, lease_id: str | None = None) -> ContainerInfo | None: ...

    def list_containers(self, prefix: str, marker: str, limit: int) -> tuple[list[ContainerInfo], str]: ...

    def delete_container(self, name: str, cond: Conditions) -> None: ...

    def set_container_metadata(self, name: str, metadata: Mapping[str, str], cond: Conditions) -> ContainerInfo: ...

    def set_container_acl(self, name: str, public_access: str, identifiers: Sequence[SignedIdentifier],
                          cond: Conditions) -> ContainerInfo: ...

    def container_lease(self, name: str, action: LeaseAction, cond: Conditions, proposed: str | None,
                        duration: int, break_period: int | None) -> LeaseResult: ...

    def blob_info(self, container: str, name: str, cond: Conditions | None = None) -> BlobInfo: ...

    def read_blob(self, container: str, name: str, cond: Conditions) -> tuple[BlobReader, BlobInfo]:
        """A reader of the version the conditions were checked on (close it, or exhaust its chunks)."""
        ...

    def put_blob(self, container: str, name: str, chunks: Iterable[bytes], write: BlobWrite,
                 cond: Conditions) -> BlobInfo: ...

    def set_blob_headers(self, container: str, name: str, headers: ContentHeaders, cond: Conditions) -> BlobInfo: ...

    def set_blob_metadata(self, container: str, name: str, metadata: Mapping[str, str],
                          cond: Conditions) -> BlobInfo: ...

    def delete_blob(self, container: str, name: str, cond: Conditions) -> None: ...

    def list_blob_infos(self, container: str, prefix: str, marker: str, limit: int,
                        delimiter: str) -> tuple[list[BlobInfo | str], str]:
        """Blobs and (with a delimiter) prefixes ("a/"), and the next marker ("" at the end)."""
        ...

    def stage_block(self, container: str, name: str, block_id: str, chunks: Iterable[bytes],
                    cond: Conditions) -> Content:
        """The staged block's size and MD5 (``ref`` is the store's)."""
        ...

    def commit_blocks(self, container: str, name: str, blocks: Sequence[tuple[str, str]], write: BlobWrite,
                      cond: Conditions) -> BlobInfo:
        """``blocks``: (list, base64 id) with list "Committed", "Uncommitted" or "Latest", as Put Block List."""
        ...

    def block_list(self, container: str, name: str, which: BlockListType,
                   lease_id: str | None) -> tuple[list[Block], list[Block], BlobInfo | None]: ...

    def append_block(self, container: str, name: str, chunks: Iterable[bytes], cond: Conditions,
                     append_position: int | None, max_size: int | None) -> tuple[BlobInfo, int]:
        """The blob after the append, and the offset the block was appended at."""
        ...

    def copy_blob(self, source: tuple[str, str], target: tuple[str, str], metadata: Mapping[str, str] | None,
                  source_url: str, cond: Conditions, source_cond: Conditions) -> BlobInfo: ...

    def blob_lease(self, container: str, name: str, action: LeaseAction, cond: Conditions, proposed: str | None,
                   duration: int, break_period: int | None) -> LeaseResult: ...

