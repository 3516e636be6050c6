"""The Cosmos DB SQL query subset (docs/cosmosdb-queries.md), with no store and no I/O: ``parse_query`` (text →
``Query``), ``evaluate`` (the reference evaluator over Python dicts) and the compilers to SQL over a JSON column,
``compile_sqlite`` and ``compile_postgresql``, whose ``CompiledQuery.results`` projects the rows they return."""

from __future__ import annotations

from overcast.backends.cosmos_sql.compiled import CompiledQuery
from overcast.backends.cosmos_sql.evaluate import evaluate, normalize_parameters
from overcast.backends.cosmos_sql.parser import parse_query
from overcast.backends.cosmos_sql.postgresql import compile_postgresql
from overcast.backends.cosmos_sql.sqlite import compile_sqlite
from overcast.backends.cosmos_sql.syntax import Query
from overcast.backends.cosmos_sql.values import UNDEFINED

__all__ = ["UNDEFINED", "CompiledQuery", "Query", "compile_postgresql", "compile_sqlite", "evaluate",
           "normalize_parameters", "parse_query"]
