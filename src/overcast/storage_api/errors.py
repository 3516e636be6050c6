"""Azure's error replies: the status, ``x-ms-error-code``, and an XML (Blob, Queue) or JSON (Table) body.

Handlers raise :class:`overcast.errors.StorageApiError` (built with :func:`error` or one of the common ones here);
the ASGI app turns it into the reply Azure gives, so the SDKs raise the exceptions user code already handles.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from overcast.errors import StorageApiError
from overcast.storage_api.request import ErrorFormat, StorageResponse

XML_TYPE = "application/xml"
JSON_ERROR_TYPE = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"


def error(status: int, code: str, message: str, **details: str) -> StorageApiError:
    """An error reply; ``details`` become extra XML elements (``AuthenticationErrorDetail``, ``QueryParameterName``)."""
    return StorageApiError(status, code, message, details=dict(details))


# The errors every service shares, with Azure's wording.
def authentication_failed(detail: str) -> StorageApiError:
    return error(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of "
                 "Authorization header is formed correctly including the signature.", AuthenticationErrorDetail=detail)


def authorization_failure() -> StorageApiError:
    return error(403, "AuthorizationFailure", "This request is not authorized to perform this operation.")


def permission_mismatch() -> StorageApiError:
    return error(403, "AuthorizationPermissionMismatch",
                 "This request is not authorized to perform this operation using this permission.")


def resource_type_mismatch() -> StorageApiError:
    return error(403, "AuthorizationResourceTypeMismatch",
                 "This request is not authorized to perform this operation using this resource type.")


def service_mismatch() -> StorageApiError:
    return error(403, "AuthorizationServiceMismatch",
                 "This request is not authorized to perform this operation using this service.")


def invalid_header(name: str, value: str) -> StorageApiError:
    return error(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                 HeaderName=name, HeaderValue=value)


def invalid_query(name: str, value: str, reason: str = "") -> StorageApiError:
    details = {"QueryParameterName": name, "QueryParameterValue": value}
    if reason:
        details["Reason"] = reason
    return error(400, "InvalidQueryParameterValue",
                 "Value for one of the query parameters specified in the request URI is invalid.", **details)


def missing_header(name: str) -> StorageApiError:
    return error(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.",
                 HeaderName=name)


def unsupported(method: str, what: str) -> StorageApiError:
    return error(400, "UnsupportedHttpVerb" if what == "verb" else "InvalidQueryParameterValue",
                 f"The resource doesn't support the specified HTTP verb or operation ({method} {what}).")


def render(exc: StorageApiError, errors: ErrorFormat, request_id: str, head: bool) -> StorageResponse:
    """The reply for an error: Azure's message ends with the request id and time; HEAD replies carry no body."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    message = f"{exc.message}\nRequestId:{request_id}\nTime:{now}"
    headers = {"x-ms-error-code": exc.code, **exc.headers}
    if head:
        return StorageResponse(exc.status, headers)
    if errors == "json":
        body = json.dumps({"odata.error": {"code": exc.code, "message": {"lang": "en-US", "value": message}}})
        headers["Content-Type"] = JSON_ERROR_TYPE
        return StorageResponse(exc.status, headers, body.encode())
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in exc.details.items())
    text = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{escape(exc.code)}</Code>'
            f"<Message>{escape(message)}</Message>{extra}</Error>")
    headers["Content-Type"] = XML_TYPE
    return StorageResponse(exc.status, headers, text.encode())
