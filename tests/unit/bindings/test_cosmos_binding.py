"""The cosmosDB binding's pure parts: settings (v4 and v3 names), cosmosdb.json, partition keys, query parameters,
output values, and the start checks of the kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.functions.meta import Datum

from overcast.app.spec import BindingSpec
from overcast.backends.documents_store import UNDEFINED
from overcast.bindings import cosmos
from overcast.bindings.cosmos_kind import CosmosKind
from overcast.config.connections import COSMOS_EMULATOR_KEY
from overcast.errors import ConfigError, DocumentInvalid


def binding(**raw: Any) -> BindingSpec:
    trigger = raw.pop("trigger", False)
    return BindingSpec("docs", "cosmosDBTrigger" if trigger else "cosmosDB", "in", None, raw)


@pytest.mark.parametrize(("text", "item_id", "path", "expected"), [
    ("ann", "1", "/customer", ["ann"]),
    ("42", "1", "/customer", ["42", 42]),
    ("true", "1", "/flag", ["true", True]),
    ("null", "1", "/x", ["null", None]),
    (None, "7", "/id", ["7"]),
    (None, "7", "/customer", [UNDEFINED]),
    ('"quoted"', "1", "/x", ['"quoted"']),
])
def test_partition_key_candidates(text: str | None, item_id: str, path: str, expected: list[Any]) -> None:
    assert cosmos.partition_candidates(text, item_id, path) == expected


@pytest.mark.parametrize(("query", "tokens", "text"), [
    ("SELECT * FROM c WHERE c.id = {id}", ["id"], "SELECT * FROM c WHERE c.id = @id"),
    ("SELECT * FROM c WHERE c.a = {a} AND c.b = { b } OR c.a2 = {a}", ["a", "b"],
     "SELECT * FROM c WHERE c.a = @a AND c.b = @b OR c.a2 = @a"),
    ("SELECT * FROM c WHERE c.n = {Query.name}", ["Query.name"], "SELECT * FROM c WHERE c.n = @Query_name"),
    ("SELECT * FROM c", [], "SELECT * FROM c"),
])
def test_query_expressions_become_parameters(query: str, tokens: list[str], text: str) -> None:
    assert cosmos.query_tokens(query) == tokens
    assert cosmos.parameterized(query) == text


@pytest.mark.parametrize(("datum", "expected"), [
    (Datum('[{"id": "1"}]', "json"), [{"id": "1"}]),
    (Datum('{"id": "1"}', "string"), [{"id": "1"}]),
    (Datum(b'[{"id": "1"}, {"id": "2"}]', "bytes"), [{"id": "1"}, {"id": "2"}]),
    (None, []),
])
def test_output_values(datum: Any, expected: list[dict[str, Any]]) -> None:
    assert cosmos.output_documents(datum, "out") == expected


@pytest.mark.parametrize(("datum", "message"), [
    (Datum("not json", "string"), "must be the JSON of an item"),
    (Datum("[1, 2]", "json"), "every item must be a JSON object"),
])
def test_bad_output_values(datum: Any, message: str) -> None:
    with pytest.raises(DocumentInvalid, match=message):
        cosmos.output_documents(datum, "out")


def test_config_file_shape(tmp_path: Path) -> None:
    good = '{"databases": {"shop": {"containers": {"orders": {"partitionKey": "/c", "feedRanges": 2}, "x": {}}}}}'
    assert cosmos.parse_config(good, "cosmosdb.json") == {("shop", "orders"): ("/c", 2), ("shop", "x"): ("/id", 4)}
    for bad, message in [("{", "not valid JSON"), ('{"databases": []}', "expected"),
                         ('{"databases": {"d": {"containers": 1}}}', "needs a \"containers\" object"),
                         ('{"databases": {"d": {"containers": {"c": {"partitionKey": "c"}}}}}', "partition key path"),
                         ('{"databases": {"d": {"containers": {"c": {"feedRanges": 0}}}}}', "feedRanges")]:
        with pytest.raises(ConfigError, match=message):
            cosmos.parse_config(bad, "cosmosdb.json")


def test_app_folder_of_v1_functions(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text("{}")
    (tmp_path / "fn").mkdir()
    assert cosmos.app_folder(str(tmp_path / "fn")) == tmp_path
    assert cosmos.app_folder(str(tmp_path)) == tmp_path


@pytest.mark.parametrize(("value", "expected"), [
    ("2021-02-16T14:19:29Z", 1613485169.0), ("2021-02-16T14:19:29", 1613485169.0),
    ("2021-02-16T15:19:29+01:00", 1613485169.0), (None, None),
])
def test_start_from_time(value: str | None, expected: float | None) -> None:
    assert cosmos.start_time(value) == expected


def test_v4_and_v3_names() -> None:
    v3 = binding(collectionName="c", databaseName="d", leaseCollectionPrefix="p-", connectionStringSetting="S")
    v4 = binding(containerName="c", databaseName="d", leaseContainerPrefix="p-", connection="S")
    for spec in (v3, v4):
        assert cosmos.container_of(spec) == "c" and cosmos.database_of(spec) == "d"
        assert cosmos.setting(spec, "leaseContainerPrefix", "leaseCollectionPrefix") == "p-"
        assert cosmos.connection_setting(spec) == "S"
    assert cosmos.milliseconds(binding(feedPollDelay=250), "feedPollDelay", 5.0) == 0.25
    assert cosmos.flag(binding(startFromBeginning="true"), "startFromBeginning") is True


REAL = "AccountEndpoint=https://contoso.documents.azure.com:443/;AccountKey=c2VjcmV0;"
EMULATOR = f"AccountEndpoint=https://localhost:8081/;AccountKey={COSMOS_EMULATOR_KEY};"


@pytest.mark.parametrize(("raw", "environ", "problem"), [
    ({"databaseName": "d", "containerName": "c"}, {}, None),
    ({"databaseName": "d", "collectionName": "c", "connectionStringSetting": "S"}, {"S": EMULATOR}, None),
    ({"databaseName": "d", "collectionName": "c", "connectionStringSetting": "S"}, {"S": REAL},
     "points at a Cosmos DB account"),
    ({"containerName": "c"}, {}, "needs 'databaseName'"),
    ({"databaseName": "d"}, {}, "needs 'containerName'"),
    ({"databaseName": "d", "containerName": "c", "sqlQuery": "SELECT * FROM c WHERE c.id = {id}"}, {}, None),
    ({"databaseName": "d", "containerName": "c", "sqlQuery": "DELETE FROM c"}, {}, "its sqlQuery cannot run"),
    ({"databaseName": "d", "containerName": "c", "trigger": True, "startFromTime": "yesterday"}, {},
     "startFromTime"),
    ({"databaseName": "d", "containerName": "c", "trigger": True, "feedPollDelay": "soon"}, {}, "feedPollDelay"),
    ({"databaseName": "d", "containerName": "c", "trigger": True, "maxItemsPerInvocation": 0}, {},
     "maxItemsPerInvocation"),
])
def test_start_checks(raw: dict[str, Any], environ: dict[str, str], problem: str | None) -> None:
    problems = CosmosKind().problems(binding(**raw), environ)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems
        assert "c2VjcmV0" not in problems[0]


def test_manual_input() -> None:
    kind = CosmosKind()
    assert kind.manual_input('{"id": "1"}')[0].value == '[{"id": "1"}]'
    assert kind.manual_input('[{"id": "1"}, {"id": "2"}]')[0].value == '[{"id": "1"}, {"id": "2"}]'
    with pytest.raises(ValueError, match="JSON of a document"):
        kind.manual_input("plain")
