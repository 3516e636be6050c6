"""Cosmos DB bindings and the change feed trigger through the real CLI: two instances over SQLite, two functions with
different lease prefixes on one container, a worker killed with SIGKILL, a restart, and the `overcast cosmos` CLI."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.hosting import APPS, RunningHost, run_overcast

APP = APPS / "cosmos"


def cli(host: RunningHost, *args: str, input: str | None = None) -> str:
    done = run_overcast("cosmos", *args, "--script-root", str(APP), "--data-dir", str(host.data_dir), input=input)
    assert done.returncode == 0, done.stderr
    return done.stdout


def leases(host: RunningHost) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli(host, "leases", "--json").splitlines()]


def wait_balanced(host: RunningHost, timeout: float = 30) -> list[dict[str, Any]]:
    """Until each prefix's four leases are held by two live instances, two each."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = leases(host)
        by_prefix: dict[str, Counter[str]] = {}
        for row in rows:
            by_prefix.setdefault(row["prefix"], Counter())[row["owner"]] += 1
        if set(by_prefix) == {"a-", "b-"} and all(sorted(c.values()) == [2, 2] and None not in c
                                                   for c in by_prefix.values()):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"leases never balanced: {rows}\n{host.output}")


def seen(host: RunningHost) -> list[dict[str, Any]]:
    response = host.client.get("/api/seen")
    assert response.status_code == 200, response.text
    return list(response.json())


def wait_seen(host: RunningHost, expected: set[str], timeout: float = 30) -> list[dict[str, Any]]:
    """Until both functions recorded every id in ``expected``; the records."""
    deadline = time.monotonic() + timeout
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = seen(host)
        if all({r["doc"] for r in records if r["fn"] == fn} >= expected for fn in ("a", "b")):
            time.sleep(0.5)  # anything delivered twice would show up now
            return seen(host)
        time.sleep(0.1)
    raise AssertionError(f"not every write was seen: {sorted((r['fn'], r['doc']) for r in records)}\n{host.output}")


def assert_once_each(records: list[dict[str, Any]], ids: set[str]) -> None:
    counts = Counter((r["fn"], r["doc"]) for r in records if r["doc"] in ids)
    assert counts == Counter({(fn, doc): 1 for fn in ("a", "b") for doc in ids}), counts


def post_orders(host: RunningHost, ids: list[str]) -> None:
    for n, order_id in enumerate(ids):
        response = host.client.post("/api/orders", json={"id": order_id, "customer": f"c{n % 7}", "n": n})
        assert response.status_code == 201, response.text


def test_bindings_change_feed_leases_takeover_and_restart(start_host, tmp_path: Path) -> None:
    data = tmp_path / "data"
    host = start_host("cosmos", "--no-auth", "--workers", "2", "--verbose", data_dir=data)
    wait_balanced(host)

    # Output, then input by id + partition key (binding expressions); a missing item is None.
    post_orders(host, [f"o{n}" for n in range(30)])
    got = host.client.get("/api/orders/c3/o3")
    assert got.status_code == 200 and got.json()["n"] == 3 and got.json()["_etag"].startswith('"')
    assert host.client.get("/api/orders/c4/o3").status_code == 404  # the id exists, in another partition
    # A query input: {customer} is bound as a parameter, never spliced into the query text.
    assert host.client.get("/api/bycustomer/c3").json() == ["o3", "o10", "o17", "o24"]
    assert host.client.get("/api/bycustomer/c3' OR '1'='1").json() == []
    # A DocumentList output, and create_if_not_exists with the binding's partition key path.
    assert host.client.post("/api/batch", json=[{"id": "b1", "customer": "z"}, {"id": "b2", "customer": "z"}]
                            ).status_code == 201
    assert host.client.post("/api/notes/bob", content=b"hi").status_code == 201
    listed = {row["container"]: row for row in map(json.loads, cli(host, "list", "--json").splitlines())}
    assert listed["byname"]["partitionKey"] == "/name" and listed["byname"]["items"] == 1

    # Each write seen once per lease prefix, in both instances, batches no larger than max_items_per_invocation.
    first = {f"o{n}" for n in range(30)} | {"b1", "b2"}
    records = wait_seen(host, first)
    assert_once_each(records, first)
    assert len({r["pid"] for r in records}) == 2, "both instances process their feed ranges"

    # An update moves the item to the feed's end: seen again, once per prefix.
    assert host.client.post("/api/orders", json={"id": "o5", "customer": "c5", "n": 500}).status_code == 201
    records = wait_seen(host, {"o5"})
    assert Counter((r["fn"], r["doc"]) for r in records)[("a", "o5")] == 2

    # kill -9 one instance: its leases expire (3 s here) and are taken over; nothing written after is lost.
    victim = int(str(leases(host)[0]["owner"]).split(":")[1])
    os.kill(victim, signal.SIGKILL)
    host.wait_for("restarting")
    after_kill = {f"k{n}" for n in range(12)}
    post_orders(host, sorted(after_kill))
    records = wait_seen(host, after_kill, timeout=45)
    assert_once_each(records, after_kill)
    assert all(str(row["owner"]).split(":")[1] != str(victim) for row in wait_balanced(host))
    host.wait_for("Function 'feed_a' holds feed ranges")

    # Restart: a clean stop releases the leases with their positions; a write made while stopped is delivered
    # after the restart, and nothing already handled comes again.
    assert host.stop() == 0
    held = [row for row in leases(host) if row["owner"] is not None]
    assert not held, f"a clean stop left leases held: {held}\n{host.output}"
    cli(host, "put", "shop/orders", input=json.dumps({"id": "offline", "customer": "c1"}))
    again = start_host("cosmos", "--no-auth", "--workers", "2", data_dir=data)
    records = wait_seen(again, {"offline"})
    assert_once_each(records, {"offline"} | after_kill | (first - {"o5"}))
    again.stop()


def test_cli_put_get_delete_list(start_host, tmp_path: Path) -> None:
    data = str(tmp_path / "cli-data")

    def run(*args: str, input: str | None = None) -> Any:
        return run_overcast("cosmos", *args, "--script-root", str(APP), "--data-dir", data, input=input)

    put = run("put", "shop/orders", input=json.dumps([{"id": "1", "customer": "ann"}, {"id": "2", "customer": 7}]))
    assert put.returncode == 0, put.stderr
    got = run("get", "shop/orders", "2", "--partition-key", "7")  # a number partition key given as text
    assert got.returncode == 0 and json.loads(got.stdout)["customer"] == 7
    assert run("get", "shop/orders", "1").returncode == 1  # partition key /customer: the id alone finds nothing
    assert "shop/orders\t2 item(s)\tpartition key /customer" in run("list").stdout  # declared in cosmosdb.json
    queried = run("query", "shop/orders", "SELECT VALUE c.id FROM c WHERE c.customer = @c", "--param", "c=7")
    assert queried.returncode == 0 and queried.stdout.splitlines() == ['"2"'], queried.stderr
    outside = run("query", "shop/orders", "SELECT * FROM c GROUP BY c.x")
    assert outside.returncode == 1 and "GROUP BY" in outside.stderr
    assert run("delete", "shop/orders", "1", "--partition-key", "ann").returncode == 0
    assert run("list", "shop/orders").stdout.count("\n") == 1
    bad = run("put", "shop/orders", input="[1]")
    assert bad.returncode == 1 and "must be a JSON object" in bad.stderr
    missing = run("get", "shop", "1")
    assert missing.returncode == 1 and "database/container" in missing.stderr
