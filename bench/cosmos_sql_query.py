"""Cosmos DB queries through ``compile_sqlite`` against the same SQL written by hand, on one SQLite table of
100,000 items (a file in a temporary folder, WAL, as the embedded store keeps it).

Each case runs the query through Overcast's path (``compile_sqlite`` with the parameters, execute, ``results``:
the projection of the rows returned) and the hand-written statement (execute, ``json.loads`` of each row), in the
same process, alternating, several rounds; the figure is hand-written time / Overcast time (1.0 = as fast as
hand-written SQL; the issue's target is ≥ 0.5).

    python bench/cosmos_sql_query.py [--items 100000] [--rounds 5] [--postgres postgresql://...]

With ``--postgres``, the same cases run on PostgreSQL too (a ``jsonb`` column in a schema of its own, dropped
afterwards): ``compile_postgresql`` against the SQL one would write by hand with ``->`` / ``->>``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from _common import command_line

from overcast.backends.cosmos_sql import compile_sqlite

CATEGORIES = [f"category-{i:02d}" for i in range(50)]


def build(path: Path, count: int) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    rows = [(doc["id"], json.dumps(doc)) for doc in docs(count)]
    db.executemany("INSERT INTO items VALUES (?, ?)", rows)
    db.commit()
    return db


def ours(db: sqlite3.Connection, text: str) -> Callable[[dict[str, Any]], list[Any]]:
    def run(params: dict[str, Any]) -> list[Any]:
        compiled = compile_sqlite(text, params, "doc", table="items", string_columns={"id": "id"})
        return compiled.results(db.execute(compiled.sql, compiled.params))
    return run


def docs(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [{"id": f"item-{i:06d}", "category": rng.choice(CATEGORIES), "price": round(rng.uniform(1, 100), 2),
             "qty": rng.randrange(20), "name": f"Product {i}",
             "tags": rng.sample(["red", "green", "blue", "big", "small", "new"], 2),
             "dimensions": {"w": rng.randrange(100), "h": rng.randrange(100)}} for i in range(count)]


def by_hand(db: sqlite3.Connection, sql: str, order: list[str]) -> Callable[[dict[str, Any]], list[Any]]:
    """The statement as one would write it for this data; documents parsed, scalar columns taken as they are."""
    documents = sql.startswith("SELECT doc ")

    def run(params: dict[str, Any]) -> list[Any]:
        rows = db.execute(sql, [params[name] for name in order])
        return [json.loads(row[0]) for row in rows] if documents else [row[0] for row in rows]
    return run


CASES: list[tuple[str, str, str, list[str], Callable[[random.Random, int], dict[str, Any]], int]] = [
    ("point read (c.id = @id)", "SELECT * FROM c WHERE c.id = @id",
     "SELECT doc FROM items WHERE id = ?", ["@id"],
     lambda rng, n: {"@id": f"item-{rng.randrange(n):06d}"}, 5000),
    ("filter, ~1% of items", "SELECT * FROM c WHERE c.category = @cat AND c.price > @min",
     "SELECT doc FROM items WHERE json_extract(doc, '$.category') = ? AND json_extract(doc, '$.price') > ?",
     ["@cat", "@min"], lambda rng, n: {"@cat": rng.choice(CATEGORIES), "@min": 50.0}, 3),
    ("filter, range on a number", "SELECT VALUE c.name FROM c WHERE c.qty >= @q",
     "SELECT json_extract(doc, '$.name') FROM items WHERE json_extract(doc, '$.qty') >= ?",
     ["@q"], lambda rng, n: {"@q": 19}, 3),
    ("ORDER BY + TOP 10", "SELECT TOP 10 * FROM c WHERE c.qty > @q ORDER BY c.price DESC",
     "SELECT doc FROM items WHERE json_extract(doc, '$.qty') > ? ORDER BY json_extract(doc, '$.price') DESC LIMIT 10",
     ["@q"], lambda rng, n: {"@q": 15}, 3),
    ("ARRAY_CONTAINS", "SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.tags, @t) AND c.qty = 3",
     "SELECT json_extract(doc, '$.id') FROM items WHERE json_extract(doc, '$.qty') = 3 AND EXISTS "
     "(SELECT 1 FROM json_each(doc, '$.tags') WHERE value = ?)", ["@t"], lambda rng, n: {"@t": "big"}, 3),
    ("COUNT with a filter", "SELECT VALUE COUNT(1) FROM c WHERE c.dimensions.w < @w",
     "SELECT COUNT(*) FROM items WHERE json_extract(doc, '$.dimensions.w') < ?", ["@w"],
     lambda rng, n: {"@w": 10}, 3),
]


#: The same cases written by hand for PostgreSQL (jsonb), in CASES' order.
PG_HAND = [
    "SELECT doc FROM items WHERE id = %s",
    "SELECT doc FROM items WHERE doc->>'category' = %s AND (doc->'price')::numeric > %s",
    "SELECT doc->>'name' FROM items WHERE (doc->'qty')::numeric >= %s",
    "SELECT doc FROM items WHERE (doc->'qty')::numeric > %s ORDER BY (doc->'price')::numeric DESC LIMIT 10",
    "SELECT doc->>'id' FROM items WHERE (doc->'qty')::numeric = 3 AND doc->'tags' ? %s",
    "SELECT COUNT(*) FROM items WHERE (doc->'dimensions'->'w')::numeric < %s",
]


def postgres(url: str, count: int, rounds: int) -> None:
    import psycopg

    from overcast.backends.cosmos_sql import compile_postgresql

    schema = f"bench_cq_{random.randrange(1 << 30)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
        try:
            conn.execute(f'SET search_path TO "{schema}"')  # type: ignore[arg-type]
            conn.execute("CREATE TABLE items (id text PRIMARY KEY, doc jsonb NOT NULL)")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO items VALUES (%s, %s::jsonb)",
                                   [(doc["id"], json.dumps(doc)) for doc in docs(count)])
            conn.execute("ANALYZE items")
            print(f"\nPostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}, same items\n")  # type: ignore[index]
            _header()
            for (name, text, _, order, make, repeat), sql in zip(CASES, PG_HAND, strict=True):
                def hand(params: dict[str, Any], sql: str = sql, order: list[str] = order) -> list[Any]:
                    return [row[0] for row in conn.execute(sql, [params[key] for key in order])]  # type: ignore[arg-type]

                def mine(params: dict[str, Any], text: str = text) -> list[Any]:
                    compiled = compile_postgresql(text, params, "doc", table="items", string_columns={"id": "id"})
                    return compiled.results(conn.execute(compiled.sql, compiled.params))  # type: ignore[arg-type]
                _row(name, hand, mine, make, repeat, count, rounds)
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[arg-type]


def _header() -> None:
    print(f"| {'query':<28} | rows | hand-written ms | Overcast ms | ratio (hand / Overcast) |")
    print(f"|{'-' * 30}|-----:|---------------:|------------:|------------------------:|")


def _row(name: str, hand: Callable[[dict[str, Any]], list[Any]], mine: Callable[[dict[str, Any]], list[Any]],
         make: Callable[[random.Random, int], dict[str, Any]], repeat: int, count: int, rounds: int) -> None:
    rng = random.Random(1)
    samples = [make(rng, count) for _ in range(repeat)]
    rows = len(mine(samples[0]))
    if name.startswith("point") or "COUNT" in name:
        assert _same(mine(samples[0]), hand(samples[0])), name
    ratios, hand_ms, mine_ms = [], [], []
    for _ in range(rounds):
        a = _seconds(hand, samples)
        b = _seconds(mine, samples)
        ratios.append(a / b)
        hand_ms.append(a * 1000 / repeat)
        mine_ms.append(b * 1000 / repeat)
    print(f"| {name:<28} | {rows:>4} | {statistics.median(hand_ms):>15.3f} | "
          f"{statistics.median(mine_ms):>11.3f} | {statistics.median(ratios):>23.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="", help="also run on this PostgreSQL server (a schema of its own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = build(Path(folder) / "items.db", args.items)
        print(command_line())
        print(f"{args.items:,} items, SQLite {sqlite3.sqlite_version}, {args.rounds} rounds\n")
        _header()
        for name, text, sql, order, make, repeat in CASES:
            _row(name, by_hand(db, sql, order), ours(db, text), make, repeat, args.items, args.rounds)
        db.close()
    if args.postgres:
        postgres(args.postgres, args.items, args.rounds)


def _same(a: list[Any], b: list[Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _seconds(run: Callable[[dict[str, Any]], list[Any]], samples: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for params in samples:
        run(params)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
