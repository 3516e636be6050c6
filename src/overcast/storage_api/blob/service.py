"""The Blob service: routing (URI, verb, ``restype``, ``comp``) and the account and container operations.

Blob operations are in :mod:`.blobs`. Every store call runs on the endpoints' thread pool; the store's refusals
become Azure's replies (:mod:`.protocol`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from xml.etree import ElementTree

from overcast.backends.blob_api_store import BlobApiStore, ContainerInfo, SignedIdentifier
from overcast.errors import BlobApiRefusal, StoreError
from overcast.storage_api.auth import Policy, authorize
from overcast.storage_api.blob import protocol as p
from overcast.storage_api.blob.xmlout import XML_HEAD, element, elements, http_date, metadata_xml
from overcast.storage_api.errors import error
from overcast.storage_api.request import StorageRequest, StorageResponse
from overcast.storage_api.services import Handler, ServiceEnv

XML = {"Content-Type": "application/xml"}
SERVICE_PROPERTIES_KEY = "storage-api/blob/service-properties"
DEFAULT_SERVICE_PROPERTIES = (
    f"{XML_HEAD}<StorageServiceProperties><Logging><Version>1.0</Version><Read>false</Read><Write>false</Write>"
    "<Delete>false</Delete><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></Logging><HourMetrics>"
    "<Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
    "</HourMetrics><MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false"
    "</Enabled></RetentionPolicy></MinuteMetrics><Cors /><DeleteRetentionPolicy><Enabled>false</Enabled>"
    "</DeleteRetentionPolicy><StaticWebsite><Enabled>false</Enabled></StaticWebsite></StorageServiceProperties>")


class BlobService:
    def __init__(self, env: ServiceEnv) -> None:
        from overcast.storage_api.blob.blobs import BlobOperations

        self.env = env
        self.store: BlobApiStore = env.stores.blob_api
        self.blobs = BlobOperations(self)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.env.io(fn, *args)

    async def __call__(self, request: StorageRequest) -> StorageResponse:
        container, name = request.resource
        what = "blob" if name else "container"
        try:
            if not container:
                return await self._account(request)
            if not name:
                return await self._container(request, container)
            return await self.blobs.handle(request, container, name)
        except BlobApiRefusal as exc:
            raise p.refusal(exc, what) from exc
        except StoreError as exc:
            raise p.store_error(exc) from exc

    async def access(self, request: StorageRequest, container: str, permission: str, resource_type: str,
                     anonymous_ok: tuple[str, ...] = ()) -> None:
        """Authorize, with the container's stored access policy for a SAS naming one and its public access for an
        anonymous request (``anonymous_ok``: the public access levels that allow this operation)."""
        auth = request.auth
        if auth is not None and auth.anonymous:
            info = await self.call(self.store.container_info, container)
            if info is not None and info.public_access in anonymous_ok:
                return
            raise error(404, "ResourceNotFound", "The specified resource does not exist.")
        policy = None
        if auth is not None and auth.sas is not None and auth.sas.identifier:
            info = await self.call(self.store.container_info, container)
            found = [i for i in (info.identifiers if info else ()) if i.id == auth.sas.identifier]
            policy = Policy(found[0].permissions, found[0].start, found[0].expiry) if found else None
        authorize(request, permission, resource_type, policy)

    # -- account ------------------------------------------------------------------------------------------------

    async def _account(self, request: StorageRequest) -> StorageResponse:
        method, comp, restype = request.method, request.comp, request.restype
        if method == "GET" and comp == "list":
            authorize(request, "l", "s")
            return await self._list_containers(request)
        if comp == "properties" and restype == "service":
            authorize(request, "r" if method == "GET" else "w", "s")
            if method == "GET":
                stored = await self.call(self.env.stores.state.get, SERVICE_PROPERTIES_KEY)
                return StorageResponse(200, dict(XML), (stored or DEFAULT_SERVICE_PROPERTIES).encode())
            if method == "PUT":
                try:
                    ElementTree.fromstring(request.body)
                except ElementTree.ParseError:
                    raise error(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
                await self.call(self.env.stores.state.put, SERVICE_PROPERTIES_KEY, request.body.decode())
                return StorageResponse(202)
        if comp == "properties" and restype == "account" and method in ("GET", "HEAD"):
            return StorageResponse(200, {"x-ms-sku-name": "Standard_RAGRS", "x-ms-account-kind": "StorageV2",
                                         "x-ms-is-hns-enabled": "false"})
        if comp == "stats" and restype == "service" and method == "GET":
            authorize(request, "r", "s")
            body = (f"{XML_HEAD}<StorageServiceStats><GeoReplication><Status>live</Status><LastSyncTime>"
                    f"{http_date(0)}</LastSyncTime></GeoReplication></StorageServiceStats>")
            return StorageResponse(200, dict(XML), body.encode())
        raise p.not_implemented(request)

    async def _list_containers(self, request: StorageRequest) -> StorageResponse:
        prefix = request.query.get("prefix", "")
        marker = request.query.get("marker", "")
        limit = p.max_results(request)
        with_metadata = "metadata" in request.query.get("include", "").split(",")
        page, next_marker = await self.call(self.store.list_containers, prefix, marker, limit)
        items = "".join(_container_xml(info, with_metadata) for info in page)
        body = (f'{XML_HEAD}<EnumerationResults ServiceEndpoint="{p.endpoint(request)}">'
                + (element("Prefix", prefix) if prefix else "") + (element("Marker", marker) if marker else "")
                + (element("MaxResults", limit) if "maxresults" in request.query else "")
                + "<Containers>" + items + "</Containers>" + element("NextMarker", next_marker)
                + "</EnumerationResults>")
        return StorageResponse(200, dict(XML), body.encode())

    # -- containers ---------------------------------------------------------------------------------------------

    async def _container(self, request: StorageRequest, container: str) -> StorageResponse:
        method, comp = request.method, request.comp
        if request.restype != "container":
            raise error(400, "InvalidQueryParameterValue" if request.restype else "MissingRequiredQueryParameter",
                        "A query parameter that's mandatory for this request is not specified: restype=container.",
                        QueryParameterName="restype")
        store = self.store
        cond = p.conditions(request)
        if method == "PUT" and not comp:
            await self.access(request, container, "c", "c")
            info = await self.call(store.create_container, container, p.metadata(request),
                                   p.public_access_value(request))
            return StorageResponse(201, {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)})
        if method in ("GET", "HEAD") and comp in ("", "metadata"):
            await self.access(request, container, "r", "c", ("container",))
            info = await self.call(store.container_info, container, cond.lease_id)
            if info is None:
                raise BlobApiRefusal("ContainerNotFound")
            headers = p.container_headers(info)
            if comp == "metadata":
                headers = {k: v for k, v in headers.items() if k.startswith("x-ms-meta-") or k in ("ETag",
                                                                                                  "Last-Modified")}
            return StorageResponse(200, headers)
        if method == "DELETE" and not comp:
            await self.access(request, container, "d", "c")
            await self.call(store.delete_container, container, cond)
            return StorageResponse(202)
        if method == "PUT" and comp == "metadata":
            await self.access(request, container, "w", "c")
            info = await self.call(store.set_container_metadata, container, p.metadata(request), cond)
            return StorageResponse(200, {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)})
        if comp == "acl":
            return await self._acl(request, container)
        if method == "PUT" and comp == "lease":
            await self.access(request, container, "w", "c")
            return await self.lease(request, lambda *a: store.container_lease(container, *a))
        if method == "GET" and comp == "list":
            await self.access(request, container, "l", "c", ("container",))
            return await self.blobs.list_blobs(request, container)
        raise p.not_implemented(request)

    async def _acl(self, request: StorageRequest, container: str) -> StorageResponse:
        if request.method in ("GET", "HEAD"):
            authorize(request, "r", "c")  # only with the account key or an account SAS, as Azure
            info: ContainerInfo | None = await self.call(self.store.container_info, container,
                                                         request.header("x-ms-lease-id"))
            if info is None:
                raise BlobApiRefusal("ContainerNotFound")
            items = "".join(
                "<SignedIdentifier>" + element("Id", i.id) + "<AccessPolicy>"
                + (element("Start", i.start) if i.start else "") + (element("Expiry", i.expiry) if i.expiry else "")
                + (element("Permission", i.permissions) if i.permissions else "") + "</AccessPolicy></SignedIdentifier>"
                for i in info.identifiers)
            headers = {"ETag": info.etag, "Last-Modified": http_date(info.last_modified), **XML}
            if info.public_access:
                headers["x-ms-blob-public-access"] = info.public_access
            return StorageResponse(200, headers, f"{XML_HEAD}<SignedIdentifiers>{items}</SignedIdentifiers>".encode())
        if request.method != "PUT":
            raise p.not_implemented(request)
        authorize(request, "w", "c")
        identifiers = parse_identifiers(request.body)
        info = await self.call(self.store.set_container_acl, container, p.public_access_value(request), identifiers,
                               p.conditions(request))
        return StorageResponse(200, {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)})

    async def lease(self, request: StorageRequest, call: Callable[..., Any]) -> StorageResponse:
        action = (request.header("x-ms-lease-action") or "").lower()
        statuses = {"acquire": 201, "renew": 200, "change": 200, "release": 200, "break": 202}
        if action not in statuses:
            raise error(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct "
                        "format.", HeaderName="x-ms-lease-action", HeaderValue=action)
        duration = p.int_header(request, "x-ms-lease-duration")
        if action == "acquire" and duration is None:
            raise error(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                        "specified.", HeaderName="x-ms-lease-duration")
        result = await self.call(call, action, p.conditions(request), request.header("x-ms-proposed-lease-id"),
                                 duration if duration is not None else -1,
                                 p.int_header(request, "x-ms-lease-break-period"))
        headers = {"ETag": result.etag, "Last-Modified": http_date(result.last_modified)}
        if action == "break":
            headers["x-ms-lease-time"] = str(result.lease_time or 0)
        elif action != "release":
            headers["x-ms-lease-id"] = result.lease_id
        return StorageResponse(statuses[action], headers)


def parse_identifiers(body: bytes) -> list[SignedIdentifier]:
    if not body.strip():
        return []
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise error(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
    found = []
    for item in root.findall("SignedIdentifier"):
        policy = item.find("AccessPolicy")

        def text(tag: str, node: Any = policy) -> str:
            child = node.find(tag) if node is not None else None
            return (child.text or "").strip() if child is not None else ""

        found.append(SignedIdentifier(text("Id", item), text("Start"), text("Expiry"), text("Permission")))
    if len(found) > 5:
        raise error(400, "InvalidXmlDocument", "XML specified is not syntactically valid: at most 5 signed "
                    "identifiers.")
    return found


def _container_xml(info: ContainerInfo, with_metadata: bool) -> str:
    props = [("Last-Modified", http_date(info.last_modified)), ("Etag", info.etag),
             ("LeaseStatus", info.lease.status), ("LeaseState", info.lease.state)]
    if info.lease.state == "leased":
        props.append(("LeaseDuration", info.lease.duration))
    if info.public_access:
        props.append(("PublicAccess", info.public_access))
    props += [("HasImmutabilityPolicy", "false"), ("HasLegalHold", "false")]
    return ("<Container>" + element("Name", info.name) + "<Properties>" + elements(props) + "</Properties>"
            + (metadata_xml(info.metadata) if with_metadata else "") + "</Container>")


def make_blob_service(env: ServiceEnv) -> Handler:
    service = BlobService(env)
    handler: Callable[[StorageRequest], Awaitable[StorageResponse]] = service
    return handler


__all__ = ["BlobService", "make_blob_service"]
