"""Writers under consumer load (issue 8, item 22): what keeps an output binding's enqueue from queueing behind the
consumers. Functional checks only; the latency itself is measured by bench/queue_enqueue_under_load.py."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from overcast.backends.sqlite.queues import SqliteQueueStore
from overcast.backends.sqlite.state import connect
from overcast.triggers.manager import StoreIO


def test_an_output_binding_call_does_not_wait_for_busy_listener_calls() -> None:
    io = StoreIO()
    release = threading.Event()

    async def scenario() -> None:
        # Both background threads are taken by listener calls that cannot finish yet (a consumer's settles).
        blocked = [asyncio.ensure_future(io.background(release.wait, 30)) for _ in range(3)]
        await asyncio.sleep(0)
        assert await asyncio.wait_for(io(lambda: "enqueued"), 10) == "enqueued"
        assert not any(task.done() for task in blocked)
        release.set()
        assert await asyncio.gather(*blocked) == [True, True, True]

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        io.shutdown()


@pytest.mark.parametrize("statement", ["autocommit", "begin immediate"])
def test_a_writer_waits_for_another_connections_write_lock_and_then_succeeds(tmp_path: Path, statement: str) -> None:
    store = SqliteQueueStore(tmp_path / "overcast.db")  # creates the schema
    holder = connect(tmp_path / "overcast.db")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO state (key, value) VALUES ('held', '1')")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            if statement == "autocommit":
                store.enqueue("waiting", b"body")
            else:
                store.clear("waiting")
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(0.2)  # it is waiting for the lock (the join only gives it time to try)
    assert writer.is_alive()
    holder.execute("COMMIT")
    writer.join(10)
    assert not writer.is_alive() and errors == []
    holder.close()
    store.close()
