"""psycopg 3 vs asyncpg for the PostgreSQL stores' call shape: a synchronous call from a worker thread (the queue
listeners' and the durable engine's store calls run on threads, as for SQLite), each one short statement.

Per driver, in this process, alternating: N enqueues (INSERT of a 100-byte message) and N claim+delete cycles
(UPDATE … FOR UPDATE SKIP LOCKED RETURNING, then DELETE by id), each call made from a worker thread and waited for:
- psycopg: one synchronous connection (autocommit, prepared after 5 uses), called directly on the worker thread;
- asyncpg: one connection owned by an event loop on its own thread (asyncpg is async only), each call submitted
  with ``asyncio.run_coroutine_threadsafe`` and waited for, which is what a synchronous store over it must do;
- asyncpg, in-loop: the same statements awaited inside the loop (its best case, not usable by a sync store).

    OVERCAST_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test python bench/postgres_driver.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line

SCHEMA = ("CREATE TABLE {t} (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, body BYTEA NOT NULL, "
          "visible DOUBLE PRECISION NOT NULL, receipt TEXT)")
BODY = b"x" * 100


def psycopg_rates(url: str, table: str, calls: int) -> tuple[float, float]:
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    insert = f"INSERT INTO {table} (id, body, visible) VALUES (%s, %s, %s)"
    claim = (f"UPDATE {table} m SET visible = %s, receipt = 'c' FROM (SELECT seq FROM {table} WHERE visible <= %s "
             f"ORDER BY visible, seq LIMIT 1 FOR UPDATE SKIP LOCKED) r WHERE m.seq = r.seq RETURNING m.id")
    delete = f"DELETE FROM {table} WHERE id = %s AND receipt = 'c'"
    pool = ThreadPoolExecutor(1)
    try:
        began = time.perf_counter()
        for _ in range(calls):
            pool.submit(conn.execute, insert, (uuid.uuid4().hex, BODY, time.time())).result()
        enqueue = calls / (time.perf_counter() - began)

        def cycle() -> None:
            now = time.time()
            row = conn.execute(claim, (now + 60, now)).fetchone()
            if row is not None:
                conn.execute(delete, (row[0],))

        began = time.perf_counter()
        for _ in range(calls):
            pool.submit(cycle).result()
        return enqueue, calls / (time.perf_counter() - began)
    finally:
        pool.shutdown()
        conn.close()


def asyncpg_rates(url: str, table: str, calls: int, in_loop: bool) -> tuple[float, float]:
    import asyncpg

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    conn = run(asyncpg.connect(url.split("?")[0], server_settings={"search_path": table.split(".")[0]}))
    insert = f"INSERT INTO {table} (id, body, visible) VALUES ($1, $2, $3)"
    claim = (f"UPDATE {table} m SET visible = $1, receipt = 'c' FROM (SELECT seq FROM {table} WHERE visible <= $2 "
             f"ORDER BY visible, seq LIMIT 1 FOR UPDATE SKIP LOCKED) r WHERE m.seq = r.seq RETURNING m.id")
    delete = f"DELETE FROM {table} WHERE id = $1 AND receipt = 'c'"

    async def cycle() -> None:
        now = time.time()
        row = await conn.fetchrow(claim, now + 60, now)
        if row is not None:
            await conn.execute(delete, row[0])

    async def loop_all() -> tuple[float, float]:
        began = time.perf_counter()
        for _ in range(calls):
            await conn.execute(insert, uuid.uuid4().hex, BODY, time.time())
        enqueue = calls / (time.perf_counter() - began)
        began = time.perf_counter()
        for _ in range(calls):
            await cycle()
        return enqueue, calls / (time.perf_counter() - began)

    pool = ThreadPoolExecutor(1)
    try:
        if in_loop:
            return run(loop_all())  # type: ignore[no-any-return]
        began = time.perf_counter()
        for _ in range(calls):
            pool.submit(run, conn.execute(insert, uuid.uuid4().hex, BODY, time.time())).result()
        enqueue = calls / (time.perf_counter() - began)
        began = time.perf_counter()
        for _ in range(calls):
            pool.submit(run, cycle()).result()
        return enqueue, calls / (time.perf_counter() - began)
    finally:
        pool.shutdown()
        run(conn.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = os.environ.get("OVERCAST_TEST_POSTGRES", "")
    if not server:
        print("set OVERCAST_TEST_POSTGRES to a PostgreSQL server")
        return 2
    import psycopg

    schema = f"drv_{uuid.uuid4().hex[:8]}"
    print(command_line())
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
        try:
            for n in range(args.rounds):
                results = {}
                for name, fn in (("psycopg (thread)", lambda t: psycopg_rates(server, t, args.calls)),
                                 ("asyncpg (thread -> loop)", lambda t: asyncpg_rates(server, t, args.calls, False)),
                                 ("asyncpg (in loop)", lambda t: asyncpg_rates(server, t, args.calls, True))):
                    table = f"{schema}.q{uuid.uuid4().hex[:6]}"
                    admin.execute(SCHEMA.format(t=table))  # type: ignore[arg-type]
                    results[name] = fn(table)
                base = results["psycopg (thread)"]
                print(f"round {n + 1}: " + "; ".join(
                    f"{name} enqueue {e:,.0f}/s ({e / base[0]:.2f}), claim+delete {c:,.0f}/s ({c / base[1]:.2f})"
                    for name, (e, c) in results.items()), flush=True)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
