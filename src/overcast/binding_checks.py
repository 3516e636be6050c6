"""Start-time checks of every loaded function's bindings, before any store opens.

Each binding is checked by its kind (:mod:`overcast.kinds`): its connection resolved for the kind's service, the
kind's own problems, and whether the kind plays the role asked of it. A function with a problem is put in error;
the others load. A connection whose setting is missing entirely (a freshly cloned app has no git-ignored
``local.settings.json``) or holds an emulator's connection string uses the embedded store for Service Bus, Event
Hubs and Cosmos DB: that is said once per service and setting, so the user knows where their messages and documents
live.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from overcast.app.index import AppIndex
from overcast.config.connections import EMBEDDED, resolve_connection
from overcast.kinds import kind_of

log = logging.getLogger("overcast.host.startup")

_SERVICE_NAMES = {"servicebus": "Service Bus", "eventhubs": "Event Hubs", "cosmosdb": "Cosmos DB"}


def defaulted_notice(service: str, setting: str, functions: list[str]) -> str:
    """The start line for a missing connection setting the embedded store stands in for."""
    what = _SERVICE_NAMES.get(service, service)
    return (
        f"No app setting '{setting}' exists: {what} for {', '.join(sorted(functions))} uses Overcast's embedded "
        f"store. Set '{setting}' to a connection string to use another; the emulator's string also means embedded."
    )


def emulator_notice(service: str, setting: str, functions: list[str]) -> str:
    """The start line for a setting holding an emulator's connection string the embedded store stands in for."""
    what = _SERVICE_NAMES.get(service, service)
    return (
        f"App setting '{setting}' holds the {what} emulator's connection string: {what} for "
        f"{', '.join(sorted(functions))} uses Overcast's embedded store (no emulator needed)."
    )


def check_bindings(index: AppIndex, environ: Mapping[str, str], backends: Collection[str]) -> list[str]:
    """Puts functions whose bindings cannot work in error; returns the start lines for defaulted connections."""
    defaulted: dict[tuple[str, str], list[str]] = {}
    emulated: dict[tuple[str, str], list[str]] = {}
    for spec in index.functions:
        if spec.in_error:
            continue
        for binding in spec.bindings:
            kind = kind_of(binding.type)
            if kind.connection:
                connection = resolve_connection(binding.get("connection"), environ, kind.service)
                problem = connection.problem(spec.name, binding.name, backends)
                if problem:
                    spec.errors.append(problem)
                elif kind.service in _SERVICE_NAMES and connection.kind == EMBEDDED:
                    said = defaulted if connection.defaulted else emulated
                    names = said.setdefault((kind.service, connection.setting), [])
                    if spec.name not in names:
                        names.append(spec.name)
            spec.errors += kind.problems(binding, environ)
        for binding in spec.bindings:
            if binding.is_trigger or kind_of(binding.type).serves(binding):
                continue
            spec.errors.append(
                f"The binding type '{binding.type}' (binding '{binding.name}') is not supported by this version of "
                f"Overcast yet. See docs/compatibility.md."
            )
        if not spec.in_error:
            warning = kind_of(spec.trigger.type).start_warning(spec)
            if warning:
                log.warning("%s", warning)
    return ([defaulted_notice(service, setting, names) for (service, setting), names in defaulted.items()]
            + [emulator_notice(service, setting, names) for (service, setting), names in emulated.items()])
