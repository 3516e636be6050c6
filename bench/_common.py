"""Shared helpers for the benchmarks: free ports, starting servers, waiting for a first 200."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "bench" / "apps"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def wait_200(port: int, path: str, deadline_s: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until ``GET path`` answers 200 (polling every 2 ms)."""
    start = time.perf_counter()
    while time.perf_counter() - start < deadline_s:
        if get_status(port, path, timeout=0.5) == 200:
            return time.perf_counter() - start
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        time.sleep(0.002)
    raise RuntimeError(f"no 200 from :{port}{path} within {deadline_s}s")


def uvicorn_cmd(app: str, port: int) -> list[str]:
    """The baseline server: the same uvicorn settings Overcast's instances use."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--http", "httptools", "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning", "--no-proxy-headers", "--no-server-header", "--lifespan",
            "off"]


def overcast_cmd(app_dir: Path, port: int, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "overcast", "start", "--script-root", str(app_dir), "--port", str(port),
            "--no-auth", "--data-dir", str(data_dir)]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment both sides run in. Bytecode caching is on (an installed package has its .pyc files; an
    editable checkout under PYTHONDONTWRITEBYTECODE=1 would recompile Overcast on every start, not uvicorn)."""
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start(
    cmd: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=bench_env(env))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    return " ".join(["python", *(os.path.relpath(a, ROOT) if a.endswith(".py") else a for a in sys.argv)])


def wait_for_file(path: Path, deadline_s: float, proc: subprocess.Popen[bytes] | None = None,
                  interval: float = 0.05) -> None:
    """Wait until ``path`` exists (a server writes it when done); a slow poll, so it costs the server no CPU."""
    start = time.perf_counter()
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before writing {path}")
        if time.perf_counter() - start > deadline_s:
            raise RuntimeError(f"{path} did not appear within {deadline_s}s")
        time.sleep(interval)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def latency_line(name: str, values: list[float], width: int, *, count: bool = False) -> str:
    """One latency row: p50, p90, p99 and max in milliseconds (and the sample count when asked)."""
    p50, p90, p99 = (percentile(values, p) for p in (50, 90, 99))
    row = f"  {name:{width}} p50 {p50:8.2f} ms  p90 {p90:8.2f} ms  p99 {p99:8.2f} ms  max {max(values):8.2f} ms"
    return row + (f"  (n={len(values)})" if count else "")


# ---- Durable Functions (bench/durable_*.py) -------------------------------------------------------------------------

DURABLE_APP = APPS / "durable_bench"
DURABLE_HUB = "BenchHub"  # extensions.durableTask.hubName in bench/apps/durable_bench/host.json
FAST_TIMESTAMPS = "OVERCAST_DURABLE_FAST_TIMESTAMPS"


def load_durable_app() -> Any:
    """The bench app's module, imported in this process (for the SDK-only baselines)."""
    spec = importlib.util.spec_from_file_location("durable_bench_app", DURABLE_APP / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def orchestrator_handle(app_module: Any, name: str) -> Callable[[str], str]:
    """The callable the host invokes for orchestrator ``name``: the SDK's ``Orchestrator.create(fn)`` handle, as
    ``df.DFApp`` registered it."""
    if not hasattr(app_module, "bench_functions"):  # get_functions() may be called once per app
        app_module.bench_functions = app_module.app.get_functions()
    for function in app_module.bench_functions:
        if function.get_function_name() == name:
            return function.get_user_function()  # type: ignore[no-any-return]
    raise LookupError(f"no orchestrator {name!r} in {DURABLE_APP}")


def episode_contexts(handle: Callable[[str], str], name: str, input_value: Any = None,
                     received: list[list[int]] | None = None) -> list[str]:
    """The context JSON of every episode of one orchestration, built as the engine builds it (``episode.prepare`` +
    ``context_json.build_context``), with the SDK deciding each episode and every activity returning its input.

    ``received``: the task ids whose results each episode after the first receives, in order; None delivers all
    results of the previous episode's activities at once (a chain: one per episode; a fan-out: all in one).
    """
    from overcast.durable.core import actions, episode, history
    from overcast.durable.core.context_json import build_context
    from overcast.durable.core.model import ActivityTask, EpisodeInput, InstanceSnapshot

    instance = InstanceSnapshot("bench-replay", "bench-execution", name)
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    text = None if input_value is None else json.dumps(input_value)
    new: list[dict[str, Any]] = [history.execution_started(
        name=name, instance_id=instance.instance_id, execution_id=instance.execution_id,
        input_json=history.encode_input(text), now=now)]
    past: list[dict[str, Any]] = []
    contexts: list[str] = []
    results: dict[int, dict[str, Any]] = {}
    batches = iter(received) if received is not None else None
    while new:
        prepared = episode.prepare(EpisodeInput(instance, past, new, now))
        contexts.append(build_context(prepared))
        outcome = episode.finish(prepared, actions.response_from_return(handle(contexts[-1])))
        past.extend(outcome.events)
        now += timedelta(milliseconds=1)
        for item in outcome.work:
            if not isinstance(item, ActivityTask):
                raise RuntimeError(f"the bench orchestrations only call activities, not {item!r}")
            results[item.task_id] = history.task_completed(item.task_id, item.input or "null", now)
        due = sorted(results) if batches is None else next(batches, [])
        new = [results.pop(task_id) for task_id in due]
    return contexts


def replay_seconds(handle: Callable[[str], str], contexts: list[str], times: int = 1) -> float:
    """Wall time the SDK alone takes to decide these episodes ``times`` over (in this process, no host)."""
    begin = time.perf_counter()
    for _ in range(times):
        for context in contexts:
            handle(context)
    return time.perf_counter() - begin


def fast_timestamps_in_process(on: bool) -> None:
    """Give this process's SDK the fast timestamp parse (as the host does by default) or its own dateutil one."""
    from overcast.durable import fast_timestamps

    if on:
        fast_timestamps.install()
    else:
        fast_timestamps.uninstall()


def create_orchestrations(data_dir: Path, name: str, count: int, input_value: Any = None,
                          prefix: str = "bench") -> list[str]:
    """Start ``count`` instances directly in the store (as another process would; no HTTP): their ids."""
    from overcast.durable.store.backends import open_durable_store

    store = open_durable_store(data_dir)
    try:
        return [start_in_store(store, name, f"{prefix}-{n:06d}", input_value) for n in range(count)]
    finally:
        store.close()


def start_in_store(store: Any, name: str, instance_id: str, input_value: Any = None) -> str:
    """One ``create_instance`` with the ExecutionStarted message the client API would write."""
    from overcast.durable.core import history
    from overcast.durable.store import NewOrchestration

    execution_id = uuid.uuid4().hex
    text = None if input_value is None else json.dumps(input_value)
    started = history.execution_started(name=name, instance_id=instance_id, execution_id=execution_id,
                                        input_json=history.encode_input(text), now=datetime.now(timezone.utc))
    created, _ = store.create_instance(DURABLE_HUB, NewOrchestration(instance_id, name, execution_id, text, started))
    if not created:
        raise RuntimeError(f"instance {instance_id!r} already exists")
    return instance_id


def wait_orchestrations(data_dir: Path, deadline_s: float, proc: subprocess.Popen[bytes] | None = None,
                        interval: float = 0.25) -> None:
    """Wait until no instance of the hub is Pending or Running. One indexed query per ``interval``: the host is not
    disturbed, and the times that matter are read from the store afterwards, so the interval costs no precision."""
    from overcast.durable.store import PENDING, RUNNING, InstanceQuery
    from overcast.durable.store.backends import open_durable_store

    store = open_durable_store(data_dir)
    start_time = time.perf_counter()
    try:
        while store.query_instances(DURABLE_HUB, InstanceQuery(runtime_statuses=(PENDING, RUNNING)), top=1).items:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"overcast exited with {proc.returncode} before the orchestrations finished")
            if time.perf_counter() - start_time > deadline_s:
                raise RuntimeError(f"orchestrations still running after {deadline_s}s")
            time.sleep(interval)
    finally:
        store.close()


@dataclass
class Finished:
    """One finished instance as the store recorded it: epoch seconds of its first episode and its completion."""

    instance_id: str
    status: str
    output: Any
    first_episode: float
    completed: float
    episodes: int
    history: list[dict[str, Any]]


def read_finished(data_dir: Path, instance_ids: list[str]) -> list[Finished]:
    """Status, output and times of each instance: the first episode's OrchestratorStarted time (the engine's clock
    when it began that episode) and ``last_updated_time`` (when the completing episode was committed)."""
    from overcast.durable.core import history
    from overcast.durable.store.backends import open_durable_store

    store = open_durable_store(data_dir)
    try:
        found = []
        for instance_id in instance_ids:
            record = store.get_instance(DURABLE_HUB, instance_id)
            if record is None:
                raise RuntimeError(f"instance {instance_id!r} is missing")
            events = store.get_history(DURABLE_HUB, instance_id)
            starts = [e for e in events if history.event_type(e) == history.EventType.ORCHESTRATOR_STARTED]
            first = history.parse_timestamp(starts[0]["Timestamp"]).timestamp() if starts else float("nan")
            output = None if record.output is None else json.loads(record.output)
            found.append(Finished(instance_id, record.runtime_status, output, first, record.last_updated_time,
                                  len(starts), events))
        return found
    finally:
        store.close()


def received_task_ids(events: list[dict[str, Any]]) -> list[list[int]]:
    """Per episode after the first, the task ids whose results it received (for ``episode_contexts``)."""
    from overcast.durable.core import history

    batches: list[list[int]] = []
    for event in events:
        kind = history.event_type(event)
        if kind == history.EventType.ORCHESTRATOR_STARTED:
            batches.append([])
        elif kind in (history.EventType.TASK_COMPLETED, history.EventType.TASK_FAILED):
            batches[-1].append(int(event["TaskScheduledId"]))
    return batches[1:]


def post(conn: http.client.HTTPConnection, path: str) -> int:
    """POST with an empty body on a kept-alive connection; the status."""
    conn.request("POST", path, body=b"")
    response = conn.getresponse()
    response.read()
    return response.status


def keepalive_after_202(port: int, proc: subprocess.Popen[bytes], path: str,
                        deadline_s: float = 30) -> http.client.HTTPConnection:
    """A kept-alive connection once ``POST path`` answered 202 (that request counts as the first warm-up)."""
    began = time.perf_counter()
    while time.perf_counter() - began < deadline_s:
        if proc.poll() is not None:
            raise RuntimeError("overcast exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if post(conn, path) == 202:
                return conn
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"no 202 from POST :{port}{path} within {deadline_s}s")


def read_numbers(path: Path, expected: int, deadline_s: float = 60) -> list[float]:
    """Wait until a function under test has appended ``expected`` numbers to ``path``; them, in order."""
    deadline = time.monotonic() + deadline_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text().split() if path.exists() else []
        if len(lines) >= expected:
            return [float(x) for x in lines]
        time.sleep(0.1)
    raise RuntimeError(f"only {len(lines)} of {expected} samples reached the function")
