"""Shared data for the query tests: the Families documents of the Cosmos DB "Getting started with queries" docs,
and a generated set of items with every kind in the same properties (so cross-kind rules are exercised)."""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

FAMILIES: list[dict[str, Any]] = [
    {
        "id": "AndersenFamily",
        "lastName": "Andersen",
        "parents": [{"firstName": "Thomas"}, {"firstName": "Mary Kay"}],
        "children": [{"firstName": "Henriette Thaulow", "gender": "female", "grade": 5,
                      "pets": [{"givenName": "Fluffy"}]}],
        "address": {"state": "WA", "county": "King", "city": "Seattle"},
        "creationDate": 1431620472,
        "isRegistered": True,
    },
    {
        "id": "WakefieldFamily",
        "parents": [{"familyName": "Wakefield", "givenName": "Robin"}, {"familyName": "Miller", "givenName": "Ben"}],
        "children": [
            {"familyName": "Merriam", "givenName": "Jesse", "gender": "female", "grade": 1,
             "pets": [{"givenName": "Goofy"}, {"givenName": "Shadow"}]},
            {"familyName": "Miller", "givenName": "Lisa", "gender": "female", "grade": 8},
        ],
        "address": {"state": "NY", "county": "Manhattan", "city": "NY"},
        "creationDate": 1431620462,
        "isRegistered": False,
    },
]

_WORDS = ["alpha", "beta", "Gamma", "delta", "eps_ilon", "zeta", "ETA", "theta%", "iota", "kap[pa]"]


def _maybe(rng: random.Random, value: Any) -> Any:
    """A value of another kind one time in four (or nothing: the property is then left out)."""
    roll = rng.random()
    if roll < 0.75:
        return value
    return rng.choice([None, True, False, 0, 1, 2.5, "7", "", [1, 2], {"a": 1}, "__missing__"])


def generated(count: int = 3000, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        doc: dict[str, Any] = {
            "id": f"item-{i:05d}",
            "n": _maybe(rng, rng.randrange(100)),
            "x": _maybe(rng, rng.randrange(-20, 20) / 2),
            "s": _maybe(rng, rng.choice(_WORDS) + ("" if rng.random() < 0.5 else f"-{rng.randrange(10)}")),
            "flag": _maybe(rng, rng.random() < 0.5),
            "tags": _maybe(rng, rng.sample(_WORDS, rng.randrange(4))),
            "lines": _maybe(rng, [{"sku": rng.choice(_WORDS), "qty": rng.randrange(5)}
                                  for _ in range(rng.randrange(3))]),
            "nested": _maybe(rng, {"a": {"b": rng.randrange(10)}, "c": rng.choice(_WORDS)}),
        }
        docs.append({key: value for key, value in doc.items() if value != "__missing__"})
    return docs


def sqlite_table(docs: list[dict[str, Any]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE items (id TEXT NOT NULL, doc TEXT NOT NULL)")
    db.executemany("INSERT INTO items (id, doc) VALUES (?, ?)", [(doc["id"], json.dumps(doc)) for doc in docs])
    return db
