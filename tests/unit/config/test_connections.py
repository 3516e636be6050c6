"""A connection's value picks a kind of backend; a kind with no registered backend puts the function in error."""

from __future__ import annotations

import pytest

from overcast.backends.registry import available_kinds
from overcast.config.connections import connection_kind, resolve_connection

ACCOUNT = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"


@pytest.mark.parametrize(("value", "kind"), [
    ("", "embedded"),
    ("   ", "embedded"),
    ("UseDevelopmentStorage=true", "embedded"),
    ("usedevelopmentstorage = TRUE", "embedded"),
    ("UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1", "embedded"),
    ("Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;", "embedded"),
    ("postgresql://admin:pw@db.example:5432/app", "postgresql"),
    ("postgres://db/app", "postgresql"),
    ("postgresql+psycopg://db/app", "postgresql"),
    (ACCOUNT, "azure-storage"),
    ("BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=1&sig=x", "azure-storage"),
    ("mysql://db/app", "mysql://"),
])
def test_a_value_names_its_kind(value: str, kind: str) -> None:
    assert connection_kind(value) == kind


@pytest.mark.parametrize(("name", "environ", "setting", "kind"), [
    (None, {}, "AzureWebJobsStorage", "embedded"),
    ("", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, "AzureWebJobsStorage", "embedded"),
    ("Db", {"ConnectionStrings:Db": "postgresql://db/app"}, "Db", "postgresql"),
    ("Orders", {"AzureWebJobsOrders": ACCOUNT}, "AzureWebJobsOrders", "azure-storage"),
    ("Ident", {"Ident__serviceUri": "https://acct.queue.core.windows.net"}, "Ident", "azure-storage"),
    ("Nowhere", {}, "Nowhere", "missing"),
    # overcast start moved the app's PostgreSQL store aside and shows app code the Storage endpoints' string:
    (None, {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "OVERCAST_APP_STORE": "postgresql://db/app"},
     "AzureWebJobsStorage", "postgresql"),
    ("Storage", {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "OVERCAST_APP_STORE": "postgresql://db/app"},
     "AzureWebJobsStorage", "postgresql"),
    ("Other", {"Other": "UseDevelopmentStorage=true", "OVERCAST_APP_STORE": "postgresql://db/app"}, "Other",
     "embedded"),
])
def test_a_name_resolves_to_a_setting_and_kind(
    name: str | None, environ: dict[str, str], setting: str, kind: str
) -> None:
    connection = resolve_connection(name, environ)
    assert (connection.setting, connection.kind) == (setting, kind)


@pytest.mark.parametrize(("value", "says"), [
    (ACCOUNT, "an Azure Storage account"),
    ("mysql://root:s3cr3t@db/app", "mysql://"),
])
def test_an_unregistered_kind_is_not_supported_yet_without_showing_the_value(value: str, says: str) -> None:
    problem = resolve_connection("Conn", {"Conn": value}).problem("fn", "out", available_kinds())
    assert problem is not None
    assert says in problem and "does not support that backend yet" in problem and "UseDevelopmentStorage" in problem
    assert "s3cr3t" not in problem and "c2VjcmV0" not in problem


def test_a_postgresql_url_is_usable_once_its_backend_is_registered() -> None:
    connection = resolve_connection("Conn", {"Conn": "postgresql://admin:s3cr3t@db/app"})
    assert connection.kind == "postgresql" and connection.address == "postgresql://admin:s3cr3t@db/app"
    assert connection.problem("fn", "out", available_kinds()) is None


def test_embedded_connections_are_usable_and_all_the_same_store() -> None:
    unset = resolve_connection(None, {})
    explicit = resolve_connection(None, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert unset.problem("fn", "b", available_kinds()) is None
    assert (unset.kind, unset.address) == (explicit.kind, explicit.address)


COSMOS_EMULATOR = ("AccountEndpoint=https://localhost:8081/;AccountKey="
                   "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==;")


@pytest.mark.parametrize(("value", "service", "kind"), [
    ("Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;", "servicebus",
     "embedded"),
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v", "servicebus", "servicebus"),
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v", "eventhubs", "eventhubs"),
    (COSMOS_EMULATOR, "cosmosdb", "embedded"),
    (COSMOS_EMULATOR.replace("localhost", "127.0.0.1"), "cosmosdb", "embedded"),
    ("AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=c2VjcmV0;", "cosmosdb", "cosmosdb"),
    ("AccountEndpoint=https://localhost:8081/;AccountKey=c2VjcmV0;", "cosmosdb", "cosmosdb"),
    ("", "eventhubs", "embedded"),
])
def test_a_value_names_its_kind_for_a_service(value: str, service: str, kind: str) -> None:
    assert connection_kind(value, service) == kind


def test_a_missing_setting_of_another_service_uses_the_embedded_store_and_says_so() -> None:
    connection = resolve_connection("ServiceBusConnection", {}, "servicebus")
    assert (connection.kind, connection.defaulted) == ("embedded", True)
    assert connection.problem("fn", "msg", available_kinds()) is None
    assert resolve_connection("Storage", {}).kind == "missing"


def test_a_real_namespace_is_a_clear_error_without_showing_the_value() -> None:
    value = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t"
    problem = resolve_connection("Sb", {"Sb": value}, "servicebus").problem("fn", "msg", available_kinds())
    assert problem is not None and "a Service Bus namespace" in problem and "emulator" in problem
    assert "s3cr3t" not in problem


DEV = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k=="


@pytest.mark.parametrize(("value", "environ", "kind"), [
    (f"{DEV};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", {}, "embedded"),
    (f"{DEV};BlobEndpoint=http://localhost:10000/devstoreaccount1/;QueueEndpoint=http://127.0.0.1:10001/"
     "devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;", {}, "embedded"),
    (f"{DEV};BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1;", {"OVERCAST_BLOB_PORT": "20000"}, "embedded"),
    # Another port than ours: an Azurite of its own, not the embedded store.
    (f"{DEV};BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1;", {}, "azure-storage"),
    (f"{DEV};BlobEndpoint=http://192.0.2.1:10000/devstoreaccount1;", {}, "azure-storage"),
    ("DefaultEndpointsProtocol=http;AccountName=other;AccountKey=k==;BlobEndpoint=http://127.0.0.1:10000/other;", {},
     "azure-storage"),
    (DEV, {}, "azure-storage"),
])
def test_azurite_style_strings_naming_our_endpoints_are_the_embedded_store(
    value: str, environ: dict[str, str], kind: str
) -> None:
    assert resolve_connection(None, {"AzureWebJobsStorage": value, **environ}).kind == kind
