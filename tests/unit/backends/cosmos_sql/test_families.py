"""Queries over the Families documents of the Cosmos DB docs ("Getting started with queries" and the query pages
that use them), with the results the docs show or that follow from the documented rules, run through the
reference evaluator and through the compiled SQLite statement."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from overcast.backends.cosmos_sql import compile_sqlite, evaluate
from tests.unit.backends.cosmos_sql.corpus import FAMILIES, sqlite_table

ANDERSEN, WAKEFIELD = FAMILIES
ALL_CHILDREN = [*ANDERSEN["children"], *WAKEFIELD["children"]]

CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ('SELECT * FROM Families f WHERE f.id = "AndersenFamily"', {}, [ANDERSEN]),
    ("SELECT * FROM Families f WHERE f.id = @familyId", {"@familyId": "WakefieldFamily"}, [WAKEFIELD]),
    ('SELECT {"Name":f.id, "City":f.address.city} AS Family FROM Families f WHERE f.address.city = f.address.state',
     {}, [{"Family": {"Name": "WakefieldFamily", "City": "NY"}}]),
    ("SELECT c.givenName FROM Families f JOIN c IN f.children WHERE f.id = 'WakefieldFamily' "
     "ORDER BY f.address.city ASC", {}, [{"givenName": "Jesse"}, {"givenName": "Lisa"}]),
    ('SELECT f.address FROM Families f WHERE f.id = "AndersenFamily"', {}, [{"address": ANDERSEN["address"]}]),
    ('SELECT f.address.state, f.address.city FROM Families f WHERE f.id = "AndersenFamily"', {},
     [{"state": "WA", "city": "Seattle"}]),
    ("SELECT f.id AS familyName, c.givenName AS childGivenName, c.firstName AS childFirstName, "
     "p.givenName AS petName FROM Families f JOIN c IN f.children JOIN p IN c.pets", {},
     [{"familyName": "AndersenFamily", "childFirstName": "Henriette Thaulow", "petName": "Fluffy"},
      {"familyName": "WakefieldFamily", "childGivenName": "Jesse", "petName": "Goofy"},
      {"familyName": "WakefieldFamily", "childGivenName": "Jesse", "petName": "Shadow"}]),
    ("SELECT f.id FROM Families f JOIN c IN f.children", {},
     [{"id": "AndersenFamily"}, {"id": "WakefieldFamily"}, {"id": "WakefieldFamily"}]),
    ("SELECT * FROM c IN Families.children", {}, ALL_CHILDREN),
    ("SELECT TOP 1 * FROM Families f", {}, [ANDERSEN]),
    ("SELECT f.id, f.address.city FROM Families f ORDER BY f.address.city", {},
     [{"id": "WakefieldFamily", "city": "NY"}, {"id": "AndersenFamily", "city": "Seattle"}]),
    ("SELECT f.id, f.creationDate FROM Families f ORDER BY f.creationDate DESC", {},
     [{"id": "AndersenFamily", "creationDate": 1431620472}, {"id": "WakefieldFamily", "creationDate": 1431620462}]),
    ("SELECT f.id FROM Families f ORDER BY f.lastName", {}, [{"id": "WakefieldFamily"}, {"id": "AndersenFamily"}]),
    ("SELECT VALUE f.address.state FROM Families f", {}, ["WA", "NY"]),
    # A missing property: omitted from a projection ({}), dropped from VALUE results.
    ("SELECT f.lastName FROM Families f", {}, [{"lastName": "Andersen"}, {}]),
    ("SELECT VALUE f.lastName FROM Families f", {}, ["Andersen"]),
    ("SELECT f.id FROM Families f WHERE f.address.state IN (\"NY\", \"WA\", \"CA\", \"PA\", \"OH\")", {},
     [{"id": "AndersenFamily"}, {"id": "WakefieldFamily"}]),
    ("SELECT f.id FROM Families f WHERE f.lastName = 'Andersen' OR f.address.state = 'NY'", {},
     [{"id": "AndersenFamily"}, {"id": "WakefieldFamily"}]),
    # Comparisons across kinds are undefined, so no item passes, and NOT of undefined is undefined.
    ('SELECT f.id FROM Families f WHERE f.creationDate = "1431620472"', {}, []),
    ("SELECT f.id FROM Families f WHERE f.isRegistered = 1", {}, []),
    ("SELECT f.id FROM Families f WHERE NOT (f.lastName = 'Andersen')", {}, []),
    ("SELECT f.id FROM Families f WHERE f.isRegistered", {}, [{"id": "AndersenFamily"}]),
    ("SELECT f.id FROM Families f WHERE NOT f.isRegistered", {}, [{"id": "WakefieldFamily"}]),
    ("SELECT f.id FROM Families f WHERE f.lastName != 'Smith'", {}, [{"id": "AndersenFamily"}]),
    ("SELECT f.id FROM Families f WHERE IS_DEFINED(f.lastName) = false", {}, [{"id": "WakefieldFamily"}]),
    ("SELECT c.givenName, c.grade FROM c IN Families.children WHERE c.grade BETWEEN 1 AND 5", {},
     [{"grade": 5}, {"givenName": "Jesse", "grade": 1}]),
    ("SELECT f.id, ARRAY_CONTAINS(f.parents, {givenName: 'Robin', familyName: 'Wakefield'}) AS full, "
     "ARRAY_CONTAINS(f.parents, {givenName: 'Robin'}) AS notFull, "
     "ARRAY_CONTAINS(f.parents, {givenName: 'Robin'}, true) AS partial FROM Families f", {},
     [{"id": "AndersenFamily", "full": False, "notFull": False, "partial": False},
      {"id": "WakefieldFamily", "full": True, "notFull": False, "partial": True}]),
    ("SELECT f.id FROM Families f WHERE ARRAY_CONTAINS(['WA', 'OR'], f.address.state)", {},
     [{"id": "AndersenFamily"}]),
    ("SELECT VALUE COUNT(1) FROM Families f", {}, [2]),
    ("SELECT COUNT(1) AS childCount FROM Families f JOIN c IN f.children", {}, [{"childCount": 3}]),
    ("SELECT VALUE SUM(c.grade) FROM c IN Families.children", {}, [14]),
    ("SELECT VALUE AVG(c.grade) FROM c IN Families.children", {}, [14 / 3]),
    ("SELECT MIN(c.grade) AS lo, MAX(c.grade) AS hi FROM c IN Families.children", {}, [{"lo": 1, "hi": 8}]),
    ("SELECT VALUE MAX(f.lastName) FROM Families f", {}, ["Andersen"]),
    ("SELECT DISTINCT VALUE c.gender FROM c IN Families.children", {}, ["female"]),
    ("SELECT f.id FROM Families f ORDER BY f.id OFFSET 1 LIMIT 1", {}, [{"id": "WakefieldFamily"}]),
    ("SELECT f.id FROM Families f WHERE f.address.county LIKE 'Man%'", {}, [{"id": "WakefieldFamily"}]),
    ("SELECT f.id FROM Families f WHERE f.address.county LIKE 'man%'", {}, []),
    ("SELECT f.id, STARTSWITH(f.id, 'Wake') AS wake, ENDSWITH(f.id, 'family', true) AS fam, "
     "CONTAINS(f.address.city, 'sea', true) AS sea FROM Families f", {},
     [{"id": "AndersenFamily", "wake": False, "fam": True, "sea": True},
      {"id": "WakefieldFamily", "wake": True, "fam": True, "sea": False}]),
    ("SELECT LOWER(f.address.state) AS lower, UPPER(f.address.city) AS upper, LENGTH(f.id) AS len, "
     "ARRAY_LENGTH(f.children) AS children FROM Families f", {},
     [{"lower": "wa", "upper": "SEATTLE", "len": 14, "children": 1},
      {"lower": "ny", "upper": "NY", "len": 15, "children": 2}]),
    ("SELECT IS_STRING(f.lastName) AS s, IS_NUMBER(f.creationDate) AS n, IS_BOOL(f.isRegistered) AS b, "
     "IS_ARRAY(f.children) AS a, IS_OBJECT(f.address) AS o, IS_NULL(f.lastName) AS z FROM Families f "
     "WHERE f.id = 'AndersenFamily'", {}, [{"s": True, "n": True, "b": True, "a": True, "o": True, "z": False}]),
    ("SELECT f.id, f.children[0].grade * 10 + 1 AS g, f.id || '!' AS bang FROM Families f", {},
     [{"id": "AndersenFamily", "g": 51, "bang": "AndersenFamily!"},
      {"id": "WakefieldFamily", "g": 11, "bang": "WakefieldFamily!"}]),
    ("SELECT f[\"id\"], [f.address.state, f.lastName] AS parts FROM Families f", {},
     [{"id": "AndersenFamily", "parts": ["WA", "Andersen"]}, {"id": "WakefieldFamily", "parts": ["NY"]}]),
    ("SELECT p.givenName FROM Families f JOIN c IN f.children JOIN p IN c.pets WHERE p.givenName LIKE '%f%'", {},
     [{"givenName": "Fluffy"}, {"givenName": "Goofy"}]),
]


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite_table(FAMILIES)
    yield connection
    connection.close()


@pytest.mark.parametrize(("text", "parameters", "expected"), CASES, ids=[text for text, _, _ in CASES])
def test_the_evaluator(text: str, parameters: dict[str, Any], expected: list[Any]) -> None:
    assert evaluate(text, FAMILIES, parameters) == expected


@pytest.mark.parametrize(("text", "parameters", "expected"), CASES, ids=[text for text, _, _ in CASES])
def test_the_sqlite_statement(db: sqlite3.Connection, text: str, parameters: dict[str, Any],
                              expected: list[Any]) -> None:
    compiled = compile_sqlite(text, parameters, "doc", table="items")
    assert compiled.results(db.execute(compiled.sql, compiled.params)) == expected
