"""The Blob service's HTTP vocabulary: reading conditional, content and lease headers from a request, writing a
blob's and a container's properties as headers, and turning the store's refusals into Azure's replies."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from overcast.backends.blob_api_store import BlobInfo, Conditions, ContainerInfo, ContentHeaders, Lease
from overcast.errors import BlobApiRefusal, StorageApiError, StoreError
from overcast.storage_api.blob.xmlout import http_date
from overcast.storage_api.errors import error, invalid_header, invalid_query
from overcast.storage_api.request import StorageRequest

MAX_RESULTS = 5000

# Azure's status and message for each refusal code of the store (the REST reference's "Blob service error codes").
REFUSALS: dict[str, tuple[int, str]] = {
    "ContainerNotFound": (404, "The specified container does not exist."),
    "BlobNotFound": (404, "The specified blob does not exist."),
    "ContainerAlreadyExists": (409, "The specified container already exists."),
    "BlobAlreadyExists": (409, "The specified blob already exists."),
    "ConditionNotMet": (412, "The condition specified using HTTP conditional header(s) is not met."),
    "NotModified": (304, ""),
    "LeaseIdMissing": (412, "There is currently a lease on the {what} and no lease ID was specified in the request."),
    "LeaseIdMismatchWithBlobOperation": (412, "The lease ID specified did not match the lease ID for the blob."),
    "LeaseIdMismatchWithContainerOperation": (412, "The lease ID specified did not match the lease ID for the "
                                                   "container."),
    "LeaseNotPresentWithBlobOperation": (412, "There is currently no lease on the blob."),
    "LeaseNotPresentWithContainerOperation": (412, "There is currently no lease on the container."),
    "LeaseAlreadyPresent": (409, "There is already a lease present."),
    "LeaseIdMismatchWithLeaseOperation": (409, "The lease ID specified did not match the lease ID for the {what}."),
    "LeaseNotPresentWithLeaseOperation": (409, "There is currently no lease on the {what}."),
    "LeaseIsBreakingAndCannotBeAcquired": (409, "There is already a breaking lease on the {what}."),
    "LeaseIsBrokenAndCannotBeRenewed": (409, "The lease ID matched, but the lease has been broken explicitly and "
                                             "cannot be renewed."),
    "InvalidBlockList": (400, "The specified block list is invalid."),
    "InvalidBlobType": (409, "The blob type is invalid for this operation."),
    "AppendPositionConditionNotMet": (412, "The append position condition specified was not met."),
    "MaxBlobSizeConditionNotMet": (412, "The max blob size condition specified was not met."),
    "BlockCountExceedsLimit": (409, "The committed block count cannot exceed the maximum limit of 50,000 blocks."),
    "InvalidHeaderValue": (400, "The value for one of the HTTP headers is not in the correct format."),
    "MissingRequiredHeader": (400, "An HTTP header that's mandatory for this request is not specified."),
}


def refusal(exc: BlobApiRefusal, what: str) -> StorageApiError:
    status, message = REFUSALS.get(exc.code, (400, f"The request was refused: {exc}."))
    return error(status, exc.code, message.format(what=what))


def parse_date(name: str, value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        raise invalid_header(name, value) from None


def conditions(request: StorageRequest, prefix: str = "") -> Conditions:
    """The request's conditions; ``prefix`` ``"x-ms-source-"`` reads a copy's source conditions."""
    h = request.headers
    if prefix:
        return Conditions(h.get(f"{prefix}if-match"), h.get(f"{prefix}if-none-match"),
                          parse_date(f"{prefix}if-modified-since", h.get(f"{prefix}if-modified-since")),
                          parse_date(f"{prefix}if-unmodified-since", h.get(f"{prefix}if-unmodified-since")),
                          h.get("x-ms-source-lease-id"))
    return Conditions(h.get("if-match"), h.get("if-none-match"),
                      parse_date("If-Modified-Since", h.get("if-modified-since")),
                      parse_date("If-Unmodified-Since", h.get("if-unmodified-since")), h.get("x-ms-lease-id"))


def metadata(request: StorageRequest) -> dict[str, str]:
    return {k[len("x-ms-meta-"):]: v for k, v in request.headers.items() if k.startswith("x-ms-meta-")}


def content_headers(request: StorageRequest, put: bool = False) -> ContentHeaders:
    """``x-ms-blob-content-*`` (Put Blob, Put Block List, Set Blob Properties); a Put Blob (``put``) also takes
    Content-Type (its MD5, when the client gives none, is the store's, computed as the content is stored)."""
    h = request.headers
    md5 = h.get("x-ms-blob-content-md5", "")
    content_type = h.get("x-ms-blob-content-type") or (h.get("content-type") if put else None)
    return ContentHeaders(content_type or "application/octet-stream", h.get("x-ms-blob-content-encoding", ""),
                          h.get("x-ms-blob-content-language", ""), h.get("x-ms-blob-content-disposition", ""),
                          h.get("x-ms-blob-cache-control", ""), md5)


def lease_headers(lease: Lease) -> dict[str, str]:
    headers = {"x-ms-lease-status": lease.status, "x-ms-lease-state": lease.state}
    if lease.state == "leased":
        headers["x-ms-lease-duration"] = lease.duration
    return headers


def blob_headers(info: BlobInfo, with_md5: bool = True) -> dict[str, str]:
    props, h = info.props, info.headers
    headers = {"Last-Modified": http_date(props.last_modified), "x-ms-creation-time": http_date(info.created),
               "ETag": props.etag, "Content-Type": h.content_type, "x-ms-blob-type": info.blob_type,
               "x-ms-server-encrypted": "true", "Accept-Ranges": "bytes", **lease_headers(info.lease)}
    for name, value in (("Content-Encoding", h.content_encoding), ("Content-Language", h.content_language),
                        ("Content-Disposition", h.content_disposition), ("Cache-Control", h.cache_control)):
        if value:
            headers[name] = value
    if h.content_md5 and with_md5:
        headers["Content-MD5"] = h.content_md5
    if info.blob_type == "AppendBlob":
        headers["x-ms-blob-committed-block-count"] = str(info.committed_blocks)
    if info.copy is not None:
        headers.update({"x-ms-copy-id": info.copy.copy_id, "x-ms-copy-source": info.copy.source,
                        "x-ms-copy-status": info.copy.status, "x-ms-copy-progress": info.copy.progress,
                        "x-ms-copy-completion-time": http_date(info.copy.completed)})
    headers.update(meta_headers(props.metadata))
    return headers


def meta_headers(values: Mapping[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in values.items()}


def container_headers(info: ContainerInfo) -> dict[str, str]:
    headers = {"ETag": info.etag, "Last-Modified": http_date(info.last_modified), **lease_headers(info.lease),
               "x-ms-has-immutability-policy": "false", "x-ms-has-legal-hold": "false",
               "x-ms-default-encryption-scope": "$account-encryption-key",
               "x-ms-deny-encryption-scope-override": "false", **meta_headers(info.metadata)}
    if info.public_access:
        headers["x-ms-blob-public-access"] = info.public_access
    return headers


def parse_range(text: str, length: int) -> tuple[int, int] | None:
    """(start, end inclusive) of ``bytes=a-b`` / ``bytes=a-`` within the blob; None when it asks for nothing."""
    unit, _, span = text.partition("=")
    first, _, last = span.strip().partition("-")
    if unit.strip() != "bytes" or not first.isdigit() or (last and not last.isdigit()):
        raise invalid_header("Range", text)
    start, end = int(first), (int(last) if last else length - 1)
    if end < start:
        raise invalid_header("Range", text)
    if start >= length:
        return None
    return start, min(end, length - 1)


def range_not_satisfiable() -> StorageApiError:
    return error(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")


def public_access_value(request: StorageRequest) -> str:
    value = request.headers.get("x-ms-blob-public-access", "")
    if value not in ("", "blob", "container"):
        raise invalid_header("x-ms-blob-public-access", value)
    return value


def int_header(request: StorageRequest, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid_header(name, value) from None


def not_implemented(request: StorageRequest) -> StorageApiError:
    what = f"{request.method} /{request.path}" + (f"?comp={request.comp}" if request.comp else "")
    return error(501, "NotImplemented", f"The requested operation is not implemented by Overcast's Blob endpoint: "
                 f"{what}. See docs/storage-api.md.")


def store_error(exc: StoreError) -> StorageApiError:
    text = str(exc).lower()
    if "container name" in text or "blob name" in text:
        return error(400, "InvalidResourceName", "The specified resource name contains invalid characters.")
    if "metadata" in text:
        return error(400, "InvalidMetadata", "The metadata specified is invalid. It has characters that are not "
                     "permitted.")
    return error(400, "InvalidInput", f"One of the request inputs is not valid: {exc}")


def max_results(request: StorageRequest) -> int:
    raw = request.query.get("maxresults", "")
    if not raw:
        return MAX_RESULTS
    if not raw.isdigit() or int(raw) < 1:
        raise invalid_query("maxresults", raw)
    return min(int(raw), MAX_RESULTS)


def endpoint(request: StorageRequest) -> str:
    return f"http://{request.header('host', '127.0.0.1')}/{request.account}/"
