"""Resolving a binding's ``connection`` to a kind of backend, as the host resolves connection names (§6.0).

``connection`` names an app setting: ``AzureWebJobs<name>`` then ``<name>``, each first as
``ConnectionStrings:<name>`` and then as a plain setting; an empty name means ``AzureWebJobsStorage``. Its value
picks the kind of backend (the table of backends is ``overcast.backends.registry.BACKENDS``):

- ``embedded``: unset, empty, ``UseDevelopmentStorage=true``, an emulator string
  (``...;UseDevelopmentEmulator=true``), or an Azurite-style string for ``devstoreaccount1`` whose endpoints are
  Overcast's own Storage endpoints (a loopback host on the ports of ``overcast.storage_api.endpoints``);
- ``postgresql``: a ``postgresql://`` (or ``postgres://``) URL;
- ``azure-storage``: a connection string or identity-based section of a real Azure Storage account;
- ``missing``: the setting does not exist.

The value is read for one *service*: ``storage`` (the default), ``servicebus``, ``eventhubs``, ``cosmosdb`` (the
``service`` a binding kind declares). For a service other than storage, an emulator string (the Service Bus / Event
Hubs emulators' ``UseDevelopmentEmulator=true``, the Cosmos DB emulator's ``localhost:8081`` account with its
published key) or a missing setting uses the embedded store (``defaulted`` tells the caller to say so once at
start, since a freshly cloned app has no local.settings.json), and any other connection string names that
service's real account (kind ``servicebus``, ``eventhubs``, ``cosmosdb``).

Any other URL's kind is its scheme with ``://`` (``mysql://``): no backend has such a kind, so a function using it
is in error ("not supported yet"). A new backend that a connection can name adds its scheme to ``_URL_KINDS``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

DEFAULT_CONNECTION = "AzureWebJobsStorage"
# Where ``overcast start`` keeps the app's store when AzureWebJobsStorage names a server backend and the Storage
# endpoints serve that store: the app's own code then reads AzureWebJobsStorage as the endpoints' connection string
# (an Azure SDK cannot use a postgresql:// URL), and Overcast resolves AzureWebJobsStorage to this value.
APP_STORE_SETTING = "OVERCAST_APP_STORE"
EMBEDDED = "embedded"
MISSING = "missing"
_URL_KINDS = {"postgresql": "postgresql", "postgres": "postgresql"}
# What a kind is called in an error (a scheme of its own is shown as such).
_DESCRIBED = {"postgresql": "a PostgreSQL server", "azure-storage": "an Azure Storage account",
              "servicebus": "a Service Bus namespace", "eventhubs": "an Event Hubs namespace",
              "cosmosdb": "a Cosmos DB account"}
STORAGE = "storage"
# service -> the kind of a connection string naming a real account of that service (storage's is "azure-storage").
SERVICES = {STORAGE: "azure-storage", "servicebus": "servicebus", "eventhubs": "eventhubs", "cosmosdb": "cosmosdb"}
# The Cosmos DB emulator's well-known account key (published in its documentation); with a localhost endpoint it
# means "the emulator", which the embedded document store stands in for.
COSMOS_EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "host.docker.internal")
# The Storage endpoints Overcast serves (overcast.storage_api.services names the same settings and defaults).
_OWN_ENDPOINTS = {"blobendpoint": ("OVERCAST_BLOB_PORT", 10000), "queueendpoint": ("OVERCAST_QUEUE_PORT", 10001),
                  "tableendpoint": ("OVERCAST_TABLE_PORT", 10002)}
DEV_STORAGE_ACCOUNT = "devstoreaccount1"


@dataclass(frozen=True)
class Connection:
    setting: str  # the setting name that resolved (or the default)
    kind: str  # embedded, missing, or a backend kind of overcast.backends.registry
    value: str = ""
    defaulted: bool = False  # no setting exists: the embedded store stands in (say so once at start)

    @property
    def address(self) -> str:
        """What tells two connections of one kind apart (every embedded connection is the same store)."""
        return "" if self.kind == EMBEDDED else self.value

    def problem(self, function_name: str, binding_name: str, available: Collection[str] = (EMBEDDED,)) -> str | None:
        """Why this function cannot use the connection (None when it can); ``available``: the registered kinds."""
        if self.kind == MISSING:
            return (
                f"The binding '{binding_name}' uses connection '{self.setting}', but no app setting named "
                f"'AzureWebJobs{self.setting}', '{self.setting}' or 'ConnectionStrings:{self.setting}' exists. Add "
                f"it to local.settings.json Values (\"UseDevelopmentStorage=true\" uses the embedded store)."
            )
        if self.kind not in available:
            # Never the value itself: it may hold an account key or a password.
            what = _DESCRIBED.get(self.kind, self.kind)
            if self.kind in SERVICES.values() and self.kind != SERVICES[STORAGE]:
                return (
                    f"The binding '{binding_name}' uses connection '{self.setting}', which points at {what}; this "
                    f"version of Overcast does not connect to Azure yet and serves this service from its embedded "
                    f"store. Remove the setting, or set it to the emulator's connection string, to use the embedded "
                    f"store."
                )
            return (
                f"The binding '{binding_name}' uses connection '{self.setting}', which points at {what}; this "
                f"version of Overcast does not support that backend yet (it stores data in its embedded store). Set "
                f"it to \"UseDevelopmentStorage=true\" (or remove it) to use the embedded store."
            )
        return None


def _lookup(name: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    for candidate in (f"AzureWebJobs{name}", name):
        for key in (f"ConnectionStrings:{candidate}", candidate):
            if key in environ:
                return candidate, environ[key]
    # Identity-based connections are a section: <name>__serviceUri, <name>__accountName, ...
    for candidate in (f"AzureWebJobs{name}", name):
        prefix = f"{candidate}__".lower()
        if any(k.lower().startswith(prefix) for k in environ):
            return candidate, f"{candidate}__section"
    return None


def connection_parts(text: str) -> dict[str, str]:
    """A ``Key=value;Key=value`` connection string as a dict with lower-case keys (values as written)."""
    parts = {}
    for part in text.split(";"):
        key, _, val = part.partition("=")
        if key.strip():
            parts[key.strip().lower()] = val.strip()
    return parts


def _is_cosmos_emulator(parts: Mapping[str, str]) -> bool:
    host = parts.get("accountendpoint", "").lower().partition("://")[2].split("/", 1)[0].rsplit(":", 1)[0]
    return host in _LOCAL_HOSTS and parts.get("accountkey") == COSMOS_EMULATOR_KEY


def _is_own_endpoints(parts: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """An Azurite-style string for the development account whose every endpoint is one Overcast serves."""
    if parts.get("accountname") != DEV_STORAGE_ACCOUNT:
        return False
    given = [key for key in parts if key.endswith("endpoint")]
    if not given:
        return False
    for key in given:
        setting = _OWN_ENDPOINTS.get(key)
        if setting is None:
            return False
        url = parts[key].strip().rstrip("/")
        scheme, _, rest = url.partition("://")
        host_port, _, path = rest.partition("/")
        host, _, port = host_port.rpartition(":")
        expected = (environ.get(setting[0]) or "").strip() or str(setting[1])
        if scheme.lower() != "http" or host.lower() not in _LOCAL_HOSTS or port != expected \
                or path != DEV_STORAGE_ACCOUNT:
            return False
    return True


def connection_kind(value: str, service: str = STORAGE, environ: Mapping[str, str] | None = None) -> str:
    """The kind of backend a connection's value names for ``service`` (see the module's docstring)."""
    text = value.strip()
    if not text:
        return EMBEDDED
    head, sep, _ = text.partition("://")
    if sep and head.replace("+", "").replace("-", "").replace(".", "").isalnum() and ";" not in head:
        scheme = head.lower().split("+", 1)[0]
        return _URL_KINDS.get(scheme, f"{scheme}://")
    parts = connection_parts(text)
    flags = {key: val.lower() for key, val in parts.items()}
    if flags.get("usedevelopmentstorage") == "true" or flags.get("usedevelopmentemulator") == "true":
        return EMBEDDED
    if _is_cosmos_emulator(parts):
        return EMBEDDED
    if service == STORAGE and _is_own_endpoints(parts, {} if environ is None else environ):
        return EMBEDDED
    return SERVICES.get(service, SERVICES[STORAGE])


def resolve_connection(name: str | None, environ: Mapping[str, str], service: str = STORAGE) -> Connection:
    setting = (name or "").strip() or DEFAULT_CONNECTION
    found = _lookup(setting, environ)
    if found is None:
        if service != STORAGE:
            # A cloned app has no local.settings.json (every template ignores it): the embedded store stands in.
            return Connection(setting, EMBEDDED, defaulted=True)
        # The default storage connection may be absent: the embedded store needs no setting at all.
        return Connection(setting, EMBEDDED if setting == DEFAULT_CONNECTION else MISSING)
    resolved, value = found
    if resolved == DEFAULT_CONNECTION and environ.get(APP_STORE_SETTING):
        value = environ[APP_STORE_SETTING]
    return Connection(resolved, connection_kind(value, service, environ), value)
