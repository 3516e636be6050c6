"""Resolving a binding's ``connection`` to a storage backend, as the host resolves connection names (§6.0).

``connection`` names an app setting: ``AzureWebJobs<name>`` then ``<name>``, each first as
``ConnectionStrings:<name>`` and then as a plain setting; an empty name means ``AzureWebJobsStorage``. Its value
picks the backend: unset or ``UseDevelopmentStorage=true`` is the embedded store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DEFAULT_CONNECTION = "AzureWebJobsStorage"


@dataclass(frozen=True)
class Connection:
    setting: str  # the setting name that resolved (or the default)
    kind: Literal["embedded", "unsupported", "missing"]
    value: str = ""

    def problem(self, function_name: str, binding_name: str) -> str | None:
        """Why this function cannot use the connection (None when it can)."""
        if self.kind == "missing":
            return (
                f"The binding '{binding_name}' uses connection '{self.setting}', but no app setting named "
                f"'AzureWebJobs{self.setting}', '{self.setting}' or 'ConnectionStrings:{self.setting}' exists. Add "
                f"it to local.settings.json Values (\"UseDevelopmentStorage=true\" uses the embedded store)."
            )
        if self.kind == "unsupported":
            # Never the value itself: it may hold an account key or a password.
            head = self.value.split("://", 1)[0]
            scheme = head if "://" in self.value and head.replace("+", "").isalnum() else "an Azure Storage account"
            return (
                f"The binding '{binding_name}' uses connection '{self.setting}', which points at {scheme}; this "
                f"version of Overcast stores data only in its embedded store. Set it to "
                f"\"UseDevelopmentStorage=true\" (or remove it) to use the embedded store."
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


def resolve_connection(name: str | None, environ: Mapping[str, str]) -> Connection:
    setting = (name or "").strip() or DEFAULT_CONNECTION
    found = _lookup(setting, environ)
    if found is None:
        # The default storage connection may be absent: the embedded store needs no setting at all.
        kind: Literal["embedded", "missing"] = "embedded" if setting == DEFAULT_CONNECTION else "missing"
        return Connection(setting, kind)
    resolved, value = found
    if not value.strip() or value.strip().lower().replace(" ", "") == "usedevelopmentstorage=true":
        return Connection(resolved, "embedded", value)
    return Connection(resolved, "unsupported", value)
