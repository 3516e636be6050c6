"""SharedKey and SAS made by the real SDK are accepted; wrong keys, expired or too narrow SAS are refused as Azure
refuses them (status and error code the SDK raises)."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import (
    AccountSasPermissions,
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_blob_sas,
    generate_container_sas,
)

from tests.storage_api.conftest import ACCOUNT, KEY, Target


def sas_refused(target: Target) -> str:
    """A wrong signature or an expired SAS: Azure answers AuthenticationFailed (with the reason: "The MAC
    signature ...", "Signed expiry time ...", "Signature did not match"); Azurite answers AuthorizationFailure for
    every such refusal (a difference listed in docs/storage-api.md)."""
    return "AuthenticationFailed" if target.name == "overcast" else "AuthorizationFailure"


def _later(hours: float = 1) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)


@pytest.fixture
def blob(target: Target, name: str) -> BlobClient:
    service = BlobServiceClient.from_connection_string(target.connection_string)
    service.create_container(name)
    client = service.get_blob_client(name, "dir/a b+c.txt")
    client.upload_blob(b"secret words")
    return client


def test_account_sas_reads_within_its_permissions(target: Target, blob: BlobClient) -> None:
    sas = generate_account_sas(ACCOUNT, KEY, ResourceTypes(object=True), AccountSasPermissions(read=True), _later())
    reader = BlobClient.from_blob_url(blob.url, credential=sas)
    assert reader.download_blob().readall() == b"secret words"
    with pytest.raises(HttpResponseError) as caught:
        reader.upload_blob(b"x", overwrite=True)
    assert (caught.value.status_code, caught.value.error_code) == (403, "AuthorizationPermissionMismatch")


def test_account_sas_without_the_resource_type(target: Target, blob: BlobClient) -> None:
    sas = generate_account_sas(ACCOUNT, KEY, ResourceTypes(container=True), AccountSasPermissions(read=True),
                               _later())
    with pytest.raises(HttpResponseError) as caught:
        BlobClient.from_blob_url(blob.url, credential=sas).download_blob()
    assert (caught.value.status_code, caught.value.error_code) == (403, "AuthorizationResourceTypeMismatch")


def test_expired_sas(target: Target, blob: BlobClient) -> None:
    sas = generate_account_sas(ACCOUNT, KEY, ResourceTypes(object=True), AccountSasPermissions(read=True),
                               _later(-1), start=_later(-2))
    with pytest.raises(HttpResponseError) as caught:
        BlobClient.from_blob_url(blob.url, credential=sas).download_blob()
    assert (caught.value.status_code, caught.value.error_code) == (403, sas_refused(target))


def test_service_sas_of_a_blob_and_of_a_container(target: Target, blob: BlobClient) -> None:
    sas = generate_blob_sas(ACCOUNT, blob.container_name, blob.blob_name, account_key=KEY,
                            permission=BlobSasPermissions(read=True), expiry=_later())
    assert BlobClient.from_blob_url(f"{blob.url}?{sas}").download_blob().readall() == b"secret words"
    csas = generate_container_sas(ACCOUNT, blob.container_name, account_key=KEY,
                                  permission=ContainerSasPermissions(read=True), expiry=_later())
    assert BlobClient.from_blob_url(f"{blob.url}?{csas}").download_blob().readall() == b"secret words"
    other = blob.url.rsplit("/", 1)[0] + "/other.txt"
    with pytest.raises(HttpResponseError) as caught:  # a blob SAS signs one blob's path only
        BlobClient.from_blob_url(f"{other}?{sas}").upload_blob(b"x")
    assert (caught.value.status_code, caught.value.error_code) == (403, sas_refused(target))


def test_a_wrong_key(target: Target, blob: BlobClient) -> None:
    wrong = target.connection_string.replace(KEY, "d3Jvbmcga2V5IG9mIHRoZSByaWdodCBsZW5ndGggZm9yIGEga2V5IQ==")
    with pytest.raises(HttpResponseError) as caught:
        BlobServiceClient.from_connection_string(wrong).get_blob_client(blob.container_name,
                                                                        blob.blob_name).download_blob()
    assert (caught.value.status_code, caught.value.error_code) == (403, sas_refused(target))
    if target.name == "overcast":  # the SDK raises its authentication error for Azure's code
        assert isinstance(caught.value, ClientAuthenticationError)
