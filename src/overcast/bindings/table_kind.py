"""The ``table`` kind: ``table`` input and output bindings (no trigger, as in Azure)."""

from __future__ import annotations

from typing import Any

from overcast.app.spec import BindingSpec
from overcast.bindings import table as table_binding
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, Need


class TableKind(BindingKind):
    input = output = connection = True
    binding_needs: frozenset[Need] = frozenset({"tables", "binding_io"})

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        tables = values.store_for("tables", binding)
        take = binding.get("take")
        return await values.call(
            table_binding.load, tables, values.resolve(invocation, binding, "tableName") or "",
            values.resolve(invocation, binding, "partitionKey"), values.resolve(invocation, binding, "rowKey"),
            values.resolve(invocation, binding, "filter"), None if take in (None, "") else int(take), binding.name,
        )

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        tables = values.store_for("tables", binding)
        table = values.resolve(invocation, binding, "tableName") or ""
        rows = table_binding.entities(datum, values.resolve(invocation, binding, "partitionKey"),
                                      values.resolve(invocation, binding, "rowKey"), binding.name)
        for entity in rows:
            await values.call(tables.insert, table, entity)
