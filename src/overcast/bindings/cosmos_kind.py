"""The ``cosmosDB`` kind: the ``cosmosDBTrigger`` change feed trigger and the ``cosmosDB`` input and output bindings,
served by the embedded documents store (:mod:`overcast.backends.documents_store`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from overcast.app.spec import BindingSpec
from overcast.bindings import cosmos
from overcast.errors import ConfigError, DocumentNotFound, InputError
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, ManualInput, Need

WAKE_PREFIX = "cosmos:"  # + "<database>/<container>": the in-process wake-up of that container's change feed


def wake_name(database: str, container: str) -> str:
    return f"{WAKE_PREFIX}{database}/{container}"


class CosmosKind(BindingKind):
    trigger = input = output = listened = connection = True
    service = "cosmosdb"
    trigger_needs: frozenset[Need] = frozenset({"documents"})
    binding_needs: frozenset[Need] = frozenset({"documents", "binding_io"})
    listener = "overcast.triggers.cosmos:cosmos_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        from overcast.config.connections import resolve_connection

        found: list[str] = []
        if binding.get("connection") is None and binding.get("connectionStringSetting") is not None:
            # The _v3 decorators name the connection differently; the start checks read only 'connection'.
            connection = resolve_connection(str(binding.get("connectionStringSetting")), environ, self.service)
            problem = connection.problem("", binding.name, ("embedded",))
            if problem:
                found.append(problem)
        for what, value in (("databaseName", cosmos.database_of(binding)),
                            ("containerName", cosmos.container_of(binding))):
            if not value:
                found.append(f"The Cosmos DB binding '{binding.name}' needs '{what}' (database_name / "
                             f"container_name in the decorator).")
        query = binding.get("sqlQuery")
        if query and not binding.is_trigger:
            from overcast.backends.cosmos_sql import parse_query
            from overcast.errors import QueryError

            try:
                parse_query(cosmos.parameterized(str(query)))
            except QueryError as exc:
                found.append(f"The Cosmos DB input '{binding.name}': its sqlQuery cannot run: {exc}")
        if binding.is_trigger:
            try:
                for name in ("feedPollDelay", "leaseAcquireInterval", "leaseExpirationInterval", "leaseRenewInterval"):
                    cosmos.milliseconds(binding, name, 0.0)
                cosmos.start_time(binding.get("startFromTime"))
                limit = binding.get("maxItemsPerInvocation")
                if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
                    raise ConfigError(f"'maxItemsPerInvocation' must be at least 1, got {limit!r}.")
            except (ConfigError, ValueError, TypeError) as exc:
                found.append(f"The Cosmos DB trigger '{binding.name}': {exc}")
        return found

    def _target(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> tuple[str, str]:
        container_key = "containerName" if binding.get("containerName") is not None else "collectionName"
        return (values.resolve(invocation, binding, "databaseName") or "",
                values.resolve(invocation, binding, container_key) or "")

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        from azure.functions.meta import Datum

        store = values.store_for("documents", binding)
        database, container = self._target(values, invocation, binding)
        folder = cosmos.app_folder(invocation.function.directory)
        partition_key = values.resolve(invocation, binding, "partitionKey")
        item_id = values.resolve(invocation, binding, "id")
        query = binding.get("sqlQuery")

        def read() -> Any:
            if query:
                # Each {expression} is bound as a parameter of the query, never spliced into its text (as the
                # extension does).
                parameters = {cosmos.parameter_name(token): values.resolve(
                    invocation, BindingSpec(binding.name, binding.type, "in", None, {"q": "{" + token + "}"}), "q")
                    for token in cosmos.query_tokens(str(query))}
                return store.query(database, container, cosmos.parameterized(str(query)), parameters,
                                   partition_key, any_partition=partition_key is None)
            if item_id is not None:
                return cosmos.read_item(store, database, container, item_id, partition_key)
            return store.items(database, container, partition_key, any_partition=partition_key is None)

        def load_blocking() -> Any:
            try:
                return read()
            except DocumentNotFound:
                if store.get_container(database, container) is not None:
                    raise
                cosmos.ensure_container(store, folder, database, container, create=False)
                return read()

        found = await values.call(load_blocking)
        return None if found is None else Datum(json.dumps(found), "json")

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        store = values.store_for("documents", binding)
        database, container = self._target(values, invocation, binding)
        items = cosmos.output_documents(datum, binding.name)
        if not items:
            return
        await values.call(
            cosmos.write_all, store, cosmos.app_folder(invocation.function.directory), database, container, items,
            cosmos.flag(binding, "createIfNotExists"), values.resolve(invocation, binding, "partitionKey"),
        )
        values.wake(wake_name(database, container))

    def manual_input(self, text: str) -> ManualInput:
        """A manual call gives the function the documents in ``input`` (one JSON object or a list of them)."""
        from azure.functions.meta import Datum

        try:
            value = json.loads(text)
        except ValueError:
            raise InputError("The input of a Cosmos DB trigger is the JSON of a document or a list of documents, "
                             "e.g. {\"id\": \"1\"}.") from None
        return Datum(json.dumps(value if isinstance(value, list) else [value]), "json"), {}
