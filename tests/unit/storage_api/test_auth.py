"""What a SAS allows (authorize), SAS times, and the string-to-sign forms; signatures themselves are checked with the
real SDKs over HTTP in tests/storage_api."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from overcast.errors import StorageApiError
from overcast.storage_api.auth import (
    DEV_KEY,
    Auth,
    Policy,
    Sas,
    authenticate,
    authorize,
    parse_sas_time,
    string_to_sign_candidates,
)
from overcast.storage_api.request import StorageRequest
from overcast.storage_api.services import SERVICES

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def request(path: str = "c/b", method: str = "GET", query: dict[str, str] | None = None,
            headers: dict[str, str] | None = None, auth: Auth | None = None) -> StorageRequest:
    q = query or {}
    raw = f"/devstoreaccount1/{path}"
    return StorageRequest(SERVICES["blob"], method, "devstoreaccount1", path, raw, dict(q), list(q.items()),
                          headers or {}, b"", "rid", auth)


def account_sas(permissions: str = "r", services: str = "b", types: str = "o", start: str = "",
                expiry: str = "2027-02-01T00:00:00Z") -> Auth:
    return Auth("SAS", Sas(True, permissions, start, expiry, services, types))


@pytest.mark.parametrize(("auth", "permission", "resource_type", "code"), [
    (Auth("SharedKey"), "d", "s", None),
    (account_sas(), "r", "o", None),
    (account_sas("rl"), "l", "c", "AuthorizationResourceTypeMismatch"),
    (account_sas("rl", types="co"), "l", "c", None),
    (account_sas("r"), "w", "o", "AuthorizationPermissionMismatch"),
    (account_sas("r"), "wc", "o", "AuthorizationPermissionMismatch"),
    (account_sas("c"), "wc", "o", None),
    (account_sas(services="q"), "r", "o", "AuthorizationServiceMismatch"),
    (account_sas(expiry="2027-01-01T00:00:00Z"), "r", "o", "AuthenticationFailed"),
    (account_sas(start="2027-01-16"), "r", "o", "AuthenticationFailed"),
    (account_sas(expiry=""), "r", "o", "AuthenticationFailed"),
    (Auth("SAS", Sas(False, "r", "", "2027-02-01T00:00:00Z", resource="c")), "l", "s", "AuthorizationFailure"),
    (Auth("SAS", Sas(False, "rl", "", "2027-02-01T00:00:00Z", resource="c")), "l", "c", None),
    (Auth("Anonymous"), "r", "o", "NoAuthenticationInformation"),
])
def test_authorize(auth: Auth, permission: str, resource_type: str, code: str | None) -> None:
    req = request(auth=auth)
    if code is None:
        authorize(req, permission, resource_type, now=NOW)
        return
    with pytest.raises(StorageApiError) as caught:
        authorize(req, permission, resource_type, now=NOW)
    assert (caught.value.status, caught.value.code) == (403, code)


@pytest.mark.parametrize(("sas", "policy", "code"), [
    (Sas(False, "", "", "", resource="c", identifier="p1"), Policy("r", "", "2027-02-01T00:00:00Z"), None),
    (Sas(False, "", "", "", resource="c", identifier="p1"), Policy("w", "", "2027-02-01T00:00:00Z"),
     "AuthorizationPermissionMismatch"),
    (Sas(False, "", "", "", resource="c", identifier="p1"), None, "AuthenticationFailed"),
    (Sas(False, "r", "", "", resource="c", identifier="p1"), Policy("r", "", "2027-02-01"), "AuthenticationFailed"),
    (Sas(False, "r", "", "", resource="c", identifier="p1"), Policy("", "", "2027-01-01"), "AuthenticationFailed"),
])
def test_a_stored_access_policy_completes_the_sas(sas: Sas, policy: Policy | None, code: str | None) -> None:
    req = request(auth=Auth("SAS", sas))
    if code is None:
        authorize(req, "r", "o", policy, now=NOW)
        return
    with pytest.raises(StorageApiError) as caught:
        authorize(req, "r", "o", policy, now=NOW)
    assert caught.value.code == code


@pytest.mark.parametrize(("allowed", "client", "ok"), [
    ("127.0.0.1", "127.0.0.1", True),
    ("10.0.0.1-10.0.0.9", "10.0.0.5", True),
    ("10.0.0.1-10.0.0.9", "10.0.1.5", False),
    ("10.0.0.1", "::1", False),
])
def test_a_sas_limited_to_addresses(allowed: str, client: str, ok: bool) -> None:
    req = request(auth=Auth("SAS", Sas(True, "r", "", "2027-02-01", "b", "o", ip=allowed)))
    if ok:
        authorize(req, "r", "o", client_ip=client, now=NOW)
    else:
        with pytest.raises(StorageApiError, match="AuthorizationSourceIPMismatch"):
            authorize(req, "r", "o", client_ip=client, now=NOW)


@pytest.mark.parametrize(("text", "seconds"), [
    ("2027-01-15", 1_799_971_200.0),
    ("2027-01-15T08:00:00Z", NOW),
    ("2027-01-15T08:00Z", NOW),
    ("2027-01-15T08:00:00.5000000Z", NOW + 0.5),
    ("2027-01-15T10:00:00+02:00", NOW),
])
def test_sas_times(text: str, seconds: float) -> None:
    assert parse_sas_time(text) == seconds


def _shared_key(text: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(DEV_KEY), text.encode(), hashlib.sha256).digest()).decode()


def test_shared_key_string_to_sign_as_the_rest_reference_writes_it() -> None:
    # The reference's layout: verb, 11 standard headers (Content-Length 0 as empty), x-ms-* headers sorted, then
    # /account + the path-style path and the query parameters (lower-case names, sorted, values decoded).
    req = request("c", "GET", {"restype": "container", "comp": "list", "prefix": "a b"},
                  {"x-ms-version": "2025-11-05", "x-ms-date": "Fri, 15 Jan 2027 08:00:00 GMT", "content-length": "0"})
    expected = ("GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 15 Jan 2027 08:00:00 GMT\nx-ms-version:2025-11-05\n"
                "/devstoreaccount1/devstoreaccount1/c\ncomp:list\nprefix:a b\nrestype:container")
    assert expected in string_to_sign_candidates(req, lite=False)
    req.headers["authorization"] = f"SharedKey devstoreaccount1:{_shared_key(expected)}"
    assert authenticate(req).scheme == "SharedKey"
    req.headers["authorization"] = f"SharedKey devstoreaccount1:{_shared_key(expected + 'x')}"
    with pytest.raises(StorageApiError) as caught:
        authenticate(req)
    assert caught.value.code == "AuthenticationFailed"
    assert "Server used following string to sign" in caught.value.details["AuthenticationErrorDetail"]


def test_shared_key_lite_signs_only_comp() -> None:
    req = request("c", "GET", {"restype": "container", "comp": "list"}, {"x-ms-date": "d"})
    expected = "GET\n\n\n\nx-ms-date:d\n/devstoreaccount1/devstoreaccount1/c?comp=list"
    req.headers["authorization"] = f"SharedKeyLite devstoreaccount1:{_shared_key(expected)}"
    assert authenticate(req).scheme == "SharedKeyLite"


def test_other_accounts_and_schemes_are_refused() -> None:
    for header in ("SharedKey otheraccount:abc", "Bearer token", "SharedKey nocolon"):
        req = request(headers={"authorization": header})
        with pytest.raises(StorageApiError, match="AuthenticationFailed"):
            authenticate(req)
    assert authenticate(request()).anonymous
