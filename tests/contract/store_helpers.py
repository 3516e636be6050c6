"""Helpers for the store contracts: a clock tests move by hand, and races between threads and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z: a realistic epoch reading


class FakeClock:
    """Passed as ``clock=`` to every store: time moves only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_CHILD = """
import json, sys
{setup}
print("ready", flush=True)
sys.stdin.readline()
{body}
store.close()
print(json.dumps(result), flush=True)
"""


def race_processes(setup: str, body: str, children: int = 2, timeout: float = 120) -> list[Any]:
    """Run ``body`` in ``children`` processes released at the same moment; each one's JSON ``result``.

    ``setup`` binds ``store`` in the child (before the start signal, so opening is not part of the race); ``body``
    sees its child index as ``int(sys.argv[1])`` and must assign ``result``.
    """
    code = _CHILD.format(setup=setup, body=body)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(children)
    ]
    results: list[Any] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                _, err = proc.communicate(timeout=timeout)
                raise AssertionError(f"child failed to start: {err}")
        for proc in procs:  # release all at once: their loops then overlap
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def race_threads(count: int, worker: Callable[[int], Any]) -> list[Any]:
    """Run ``worker(i)`` in ``count`` threads started together; their results in index order.

    An exception in any thread fails the test (it would otherwise vanish with its thread).
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = worker(index)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


@dataclass
class Backend(Generic[S]):
    """One implementation under a contract: how to open it, and what it can be asked (persistence, processes)."""

    name: str
    factory: Callable[[], S]
    persistent: bool  # a reopened store sees earlier writes
    # Python statements that bind ``store`` to the same store in another process (real clock); None when the store
    # lives in one process only.
    child_setup: str | None
    opened: list[S] = field(default_factory=list)

    def open(self) -> S:
        store = self.factory()
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()
