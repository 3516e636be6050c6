"""``extensions.durableTask.storageProvider`` in host.json: where the task hub lives.

Azure's MSSQL provider is chosen with ``{"type": "mssql", "connectionStringName": "<setting>"}``; the same shape
with ``"type": "postgresql"`` puts the hub in the PostgreSQL database the setting names, whatever
``AzureWebJobsStorage`` says (the other stores stay where they are). Without it the hub follows the app's store: the
embedded one, or PostgreSQL when ``AzureWebJobsStorage`` is a ``postgresql://`` URL. Other provider types (Azure
Storage, Netherite, MSSQL) are the app's store too: Overcast serves the hub itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overcast.config.connections import resolve_connection
from overcast.config.settings import Settings
from overcast.errors import ConfigError

POSTGRESQL = "postgresql"


def _get(section: Mapping[str, Any], name: str) -> Any:
    return next((value for key, value in section.items() if str(key).lower() == name.lower()), None)


def provider_connection(settings: Settings, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(kind, address) of the hub's own connection, or None when the hub follows the app's store."""
    provider = _get(settings.host_json.section("extensions", "durableTask"), "storageProvider")
    if not isinstance(provider, Mapping) or str(_get(provider, "type") or "").lower() != POSTGRESQL:
        return None
    name = _get(provider, "connectionStringName")
    where = "host.json extensions.durableTask.storageProvider"
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} of type 'postgresql' needs \"connectionStringName\": the name of the app "
                          f"setting that holds the postgresql:// URL.")
    connection = resolve_connection(name, environ)
    if connection.kind != POSTGRESQL:
        found = "does not exist" if connection.kind == "missing" else "is not a postgresql:// URL"
        raise ConfigError(f"{where} names the setting '{name}', which {found}; set it to "
                          f"postgresql://user:password@host:5432/database.")
    return connection.kind, connection.address
