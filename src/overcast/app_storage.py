"""Which store an app's data lives in: Overcast's own (the embedded SQLite store) unless ``AzureWebJobsStorage``, or
a binding's connection, names a server backend (a ``postgresql://`` URL), which then holds everything of the app:
its queues, blobs, tables, Service Bus entities, durable task hub, and the host's own state (keys, timer status,
blob receipts, leases), scoped by the host id.

An instance keeps one store: two bindings naming two different servers (or a server and the embedded store while
the other is in use) cannot both be served, so the functions that name another one are put in error with the fix.
Connections that mean "Overcast's own store" (unset, ``UseDevelopmentStorage=true``, an emulator's string) follow
the app's store.
"""

from __future__ import annotations

from collections.abc import Mapping

from overcast.app.index import AppIndex
from overcast.config.connections import EMBEDDED, MISSING, resolve_connection
from overcast.kinds import kind_of


def _servers(index: AppIndex, environ: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """(function, setting, kind, address) of every loaded binding whose connection names a server backend."""
    found = []
    for spec in index.functions:
        if spec.in_error:
            continue
        for binding in spec.bindings:
            kind = kind_of(binding.type)
            if not kind.connection:
                continue
            connection = resolve_connection(binding.get("connection"), environ, kind.service)
            if connection.kind not in (EMBEDDED, MISSING):
                found.append((spec.name, connection.setting, connection.kind, connection.address))
    return found


def app_store(index: AppIndex, environ: Mapping[str, str], backends: frozenset[str]) -> tuple[str, str]:
    """(kind, address) of the app's store; functions whose connections name another server are put in error.

    ``backends``: the registered backend kinds (a function naming another kind is already in error).
    """
    default = resolve_connection(None, environ)
    if default.kind in backends and default.kind != EMBEDDED:
        chosen = (default.kind, default.address, default.setting)
    else:
        servers = [s for s in _servers(index, environ) if s[2] in backends]
        chosen = (servers[0][2], servers[0][3], servers[0][1]) if servers else (EMBEDDED, "", default.setting)
    kind, address, setting = chosen
    for spec in index.functions:
        if spec.in_error:
            continue
        for function, other_setting, other_kind, other_address in _servers(index, environ):
            if function == spec.name and (other_kind, other_address) != (kind, address):
                spec.errors.append(
                    f"The connection '{other_setting}' names another store than the app's ('{setting}'): an "
                    f"instance keeps all of an app's data in one store. Set '{other_setting}' and "
                    f"AzureWebJobsStorage to the same connection string."
                )
                break
    return kind, address
