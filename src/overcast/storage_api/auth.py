"""Authorization as Azure Storage checks it: SharedKey, SharedKeyLite, account SAS and service SAS.

Two steps. :func:`authenticate` (the ASGI app, before any handler) checks the signature: an ``Authorization``
header's HMAC over the string-to-sign of its scheme, or a SAS token's ``sig`` over its fields; a wrong signature is
``403 AuthenticationFailed`` with the string the server signed, as Azure says it. :func:`authorize` (the handler,
once it knows the operation) checks what a SAS allows: its time window, services, resource types and permissions,
and for a stored access policy (``si``) the policy the handler looked up.

The strings to sign follow the REST reference ("Authorize with Shared Key", "Create an account SAS", "Create a
service SAS") for the versions the SDKs send. Where clients legitimately differ (path-style URLs are signed with
the account twice by the SDKs, ``/devstoreaccount1/devstoreaccount1/c``; the canonical header order of the service
ignores hyphens) every accepted form is tried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from overcast.errors import StorageApiError
from overcast.storage_api.errors import (
    authentication_failed,
    authorization_failure,
    error,
    permission_mismatch,
    resource_type_mismatch,
    service_mismatch,
)
from overcast.storage_api.request import Auth, Sas, StorageRequest

DEV_ACCOUNT = "devstoreaccount1"
# The development storage account's published key (the Azurite / storage emulator documentation).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ACCOUNT_KEYS: dict[str, bytes] = {DEV_ACCOUNT: base64.b64decode(DEV_KEY)}

_SERVICE_LETTER = {"blob": "b", "queue": "q", "table": "t", "file": "f"}
_BLOB_HEADERS = ("content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
                 "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range")


def _sign(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def _matches(key: bytes, candidates: Iterable[str], signature: str) -> str | None:
    """The first candidate string whose HMAC is ``signature`` (None when none is)."""
    first = None
    for text in candidates:
        first = first if first is not None else text
        if hmac.compare_digest(_sign(key, text), signature):
            return None
    return first or ""


def _resource_paths(request: StorageRequest) -> list[str]:
    """The encoded paths a client may have signed: the SDKs sign ``/<account>`` + the path-style URL path."""
    raw = request.raw_path
    inner = raw[len(request.account) + 1:] if raw.startswith(f"/{request.account}") else raw
    return [f"/{request.account}{raw}", f"/{request.account}{inner or '/'}"]


def _canonical_query(request: StorageRequest) -> str:
    grouped: dict[str, list[str]] = {}
    for name, value in request.params:
        grouped.setdefault(name.lower(), []).append(value)
    return "".join(f"\n{name}:{','.join(sorted(values))}" for name, values in sorted(grouped.items()))


def _canonical_headers(request: StorageRequest) -> list[str]:
    pairs = [(n, " ".join(v.split()) if "\n" in v else v.strip()) for n, v in request.headers.items()
             if n.startswith("x-ms-")]
    orders = [sorted(pairs), sorted(pairs, key=lambda p: (p[0].replace("-", ""), p[0]))]
    texts = ["".join(f"{n}:{v}\n" for n, v in order) for order in orders]
    return texts if texts[0] != texts[1] else texts[:1]


def string_to_sign_candidates(request: StorageRequest, lite: bool) -> list[str]:
    """Every string-to-sign a correct client of this scheme may have signed for the request."""
    h = request.headers
    verb = request.method
    comp = f"?comp={request.query['comp']}" if "comp" in request.query else ""
    dates = [h.get("date", "")] if "x-ms-date" not in h else ["", h.get("date", "")]
    out: list[str] = []
    if request.service.name == "table":
        date = h.get("x-ms-date") or h.get("date", "")
        for path in _resource_paths(request):
            if lite:
                out.append(f"{date}\n{path}{comp}")
            else:
                out.append(f"{verb}\n{h.get('content-md5', '')}\n{h.get('content-type', '')}\n{date}\n{path}{comp}")
        return out
    for headers in _canonical_headers(request):
        for path in _resource_paths(request):
            for date in dict.fromkeys(dates):
                if lite:
                    out.append(f"{verb}\n{h.get('content-md5', '')}\n{h.get('content-type', '')}\n{date}\n"
                               f"{headers}{path}{comp}")
                    continue
                fields = [h.get(name, "") for name in _BLOB_HEADERS]
                if fields[2] == "0":
                    fields[2] = ""  # Content-Length 0 is signed as empty (versions 2015-02-21 and later)
                fields[5] = date
                out.append(f"{verb}\n" + "\n".join(fields) + f"\n{headers}{path}{_canonical_query(request)}")
    return out


def authenticate(request: StorageRequest, keys: dict[str, bytes] | None = None) -> Auth:
    """Check the request's signature (raises ``StorageApiError`` 403); what a SAS allows is :func:`authorize`'s."""
    keys = ACCOUNT_KEYS if keys is None else keys
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        account, _, signature = credential.strip().rpartition(":")
        if scheme not in ("SharedKey", "SharedKeyLite") or not account or not signature:
            raise authentication_failed(f"The authorization header '{header.split(':')[0]}:...' is not in a "
                                        "supported form (SharedKey or SharedKeyLite <account>:<signature>).")
        key = keys.get(account)
        if key is None or account != request.account:
            raise authentication_failed(f"The account '{account}' in the Authorization header is not the account "
                                        f"'{request.account}' of the URL, or no such account exists.")
        unmatched = _matches(key, string_to_sign_candidates(request, scheme == "SharedKeyLite"), signature)
        if unmatched is not None:
            raise authentication_failed(
                f"The MAC signature found in the HTTP request '{signature}' is not the same as any computed "
                f"signature. Server used following string to sign: '{unmatched}'.")
        return Auth(scheme)
    if "sig" in request.query:
        return Auth("SAS", _check_sas(request, keys))
    return Auth("Anonymous")


def _q(request: StorageRequest, name: str) -> str:
    return request.query.get(name, "")


def _check_sas(request: StorageRequest, keys: dict[str, bytes]) -> Sas:
    key = keys.get(request.account)
    if key is None:
        raise authentication_failed(f"The account '{request.account}' does not exist.")
    q = request.query
    signed_version = _q(request, "sv")
    account = "ss" in q or "srt" in q
    sas = Sas(account, _q(request, "sp"), _q(request, "st"), _q(request, "se"), _q(request, "ss"),
              _q(request, "srt"), _q(request, "sr"), _q(request, "si"), _q(request, "sip"), _q(request, "spr"))
    if "skoid" in q:
        raise authentication_failed("User delegation SAS tokens need Microsoft Entra ID, which the development "
                                    "storage account does not have; use an account or service SAS.")
    if account:
        fields = [request.account, sas.permissions, sas.services, sas.resource_types, sas.start, sas.expiry, sas.ip,
                  sas.protocol, signed_version]
        if signed_version >= "2020-12-06":
            fields.append(_q(request, "ses"))
        text = "\n".join(fields) + "\n"
    else:
        text = _service_string(request, sas, signed_version)
    if not hmac.compare_digest(_sign(key, text), q["sig"]):
        raise authentication_failed(f"Signature did not match. String to sign used was {text}")
    return sas


def _service_string(request: StorageRequest, sas: Sas, version: str) -> str:
    name = request.service.name
    first, rest = request.resource
    q = request.query
    base = [sas.permissions, sas.start, sas.expiry]
    if name == "blob":
        resource = f"/blob/{request.account}/{first}" + (f"/{rest}" if sas.resource in ("b", "bs", "bv") else "")
        fields = [*base, resource, sas.identifier, sas.ip, sas.protocol, version]
        if version >= "2018-11-09":
            fields += [sas.resource, q.get("snapshot", "")]
        if version >= "2020-12-06":
            fields.append(q.get("ses", ""))
        fields += [q.get(k, "") for k in ("rscc", "rscd", "rsce", "rscl", "rsct")]
        return "\n".join(fields)
    if name == "queue":
        return "\n".join([*base, f"/queue/{request.account}/{first}", sas.identifier, sas.ip, sas.protocol, version])
    table = q.get("tn", first.split("(", 1)[0]).lower()
    return "\n".join([*base, f"/table/{request.account}/{table}", sas.identifier, sas.ip, sas.protocol, version,
                      q.get("spk", ""), q.get("srk", ""), q.get("epk", ""), q.get("erk", "")])


def parse_sas_time(value: str) -> float:
    """An ISO 8601 SAS time (``2024-05-01``, ``2024-05-01T10:00Z``, ``...:00.1234567Z``) as epoch seconds."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # .NET writes up to 7 fraction digits; Python reads at most 6
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _http_date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


@dataclass(frozen=True)
class Policy:
    """A stored access policy (a container's / queue's / table's signed identifier): any field may be empty."""

    permissions: str = ""
    start: str = ""
    expiry: str = ""


def authorize(request: StorageRequest, permission: str, resource_type: str, policy: Policy | None = None,
              client_ip: str = "", now: float | None = None) -> None:
    """Raise the 403 Azure gives when the request's SAS does not allow this operation.

    ``permission``: the SAS letters any one of which allows it (``"r"``, ``"wc"``); ``resource_type``: ``s``
    (service), ``c`` (container / queue / table) or ``o`` (object). SharedKey allows everything; an anonymous
    request is refused here (a service with public access checks that before calling). ``policy``: the stored
    access policy named by the SAS's ``si``, looked up by the service (None when it has none or it is missing).
    """
    auth = request.auth
    if auth is None or auth.anonymous:
        raise error(403, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer "
                    "to the information in the www-authenticate header.")
    sas = auth.sas
    if sas is None:
        return
    permissions, start, expiry = sas.permissions, sas.start, sas.expiry
    if sas.identifier:
        if policy is None:
            raise authentication_failed(f"The signed identifier '{sas.identifier}' names no stored access policy.")
        if (permissions and policy.permissions) or (start and policy.start) or (expiry and policy.expiry):
            raise authentication_failed("A field is given both by the SAS and by its stored access policy.")
        permissions, start, expiry = permissions or policy.permissions, start or policy.start, expiry or policy.expiry
    _check_window(start, expiry, time.time() if now is None else now)
    if sas.protocol and "http" not in sas.protocol.split(","):
        raise error(403, "AuthorizationProtocolMismatch",
                    "This request is not authorized to perform this operation using this protocol.")
    if sas.ip and client_ip and not _ip_allowed(sas.ip, client_ip):
        raise error(403, "AuthorizationSourceIPMismatch",
                    "This request is not authorized to perform this operation using this source IP "
                    f"{client_ip}.")
    if sas.account:
        if _SERVICE_LETTER[request.service.name] not in sas.services:
            raise service_mismatch()
        if resource_type not in sas.resource_types:
            raise resource_type_mismatch()
    elif resource_type == "s":
        raise authorization_failure()
    if not any(letter in permissions for letter in permission):
        raise permission_mismatch()


def _check_window(start: str, expiry: str, now: float) -> None:
    try:
        began = parse_sas_time(start) if start else None
        ends = parse_sas_time(expiry) if expiry else None
    except ValueError:
        raise authentication_failed(f"The signed start '{start}' or expiry '{expiry}' is not an ISO 8601 time.") \
            from None
    if ends is None:
        raise authentication_failed("Signed expiry time is missing (se, or the stored access policy's Expiry).")
    if (began is not None and now < began) or now > ends:
        shown = _http_date(began) if began is not None else ""
        raise authentication_failed(f"Signed expiry time [{_http_date(ends)}] must be after signed start time "
                                    f"[{shown}] and the current time [{_http_date(now)}] within them.")


def _ip_allowed(allowed: str, client: str) -> bool:
    try:
        address = int(ipaddress.ip_address(client))
        low, _, high = allowed.partition("-")
        return int(ipaddress.ip_address(low)) <= address <= int(ipaddress.ip_address(high or low))
    except ValueError:
        return False


__all__ = ["ACCOUNT_KEYS", "DEV_ACCOUNT", "DEV_KEY", "Auth", "Policy", "Sas", "StorageApiError", "authenticate",
           "authorize", "parse_sas_time", "string_to_sign_candidates"]
