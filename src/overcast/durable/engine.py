"""The durable engine of one instance process: three loops that lease work from the DurableStore and run it through
the dispatcher — orchestration episodes, activities, entity batches.

Instances coordinate only through the store (leases with expiry), so any number of processes share a task hub.
Work written by this process wakes the loops at once; work written by others (another instance, the CLI) wakes
them through the store's hook (``DurableStore.on_change``: SQLite notices another connection's commit within
50 ms) and is found anyway by polling, which backs off from ``MIN_POLL`` to ``MAX_POLL`` while idle; durable timers
are waited for exactly (``next_due_time``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, TypeVar

from overcast.durable import fast_timestamps
from overcast.durable.commit import rewound_history, snapshot, to_commit
from overcast.durable.core import actions, context_json, episode, payloads
from overcast.durable.core import history as h
from overcast.durable.core.actions import OrchestratorResponse
from overcast.durable.core.model import EpisodeInput, RuntimeStatus
from overcast.durable.entity_runner import EntityRunner
from overcast.durable.http_activity import run_http_activity
from overcast.durable.registry import DurableFunctions
from overcast.durable.store import (
    FAILED,
    RUNNING,
    SUSPENDED,
    ActivityWorkItem,
    DurableStore,
    EpisodeCommit,
    HistoryReset,
    InboxMessage,
    InstanceUpdate,
    NewMessage,
    OrchestrationLease,
)
from overcast.errors import DurableProtocolError
from overcast.invoke.model import Invocation, Result

log = logging.getLogger("overcast.host.durable")
T = TypeVar("T")
# Renewed at half while work runs, so a killed instance's work returns within a lease. OVERCAST_DURABLE_LEASE_SECONDS
# (validated in Settings) shortens it (the tests use 3 s).
LEASE = 60.0
MIN_POLL, MAX_POLL = 0.05, 1.0
MAX_EPISODES = 8  # orchestration episodes in flight per process
MAX_ACTIVITIES = 32
FINISHED = frozenset(s.value for s in RuntimeStatus if s.is_finished)
IO = Callable[..., Awaitable[Any]]


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _error_text(result: Result) -> tuple[str, str]:
    error = result.error
    if error is None:
        return "the function timed out", ""
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"{type(error).__name__}: {error}", details


class DurableEngine:
    def __init__(self, store: DurableStore, hub: str, functions: DurableFunctions,
                 invoke: Callable[[Invocation], Awaitable[Result]], io: IO, owner: str,
                 lease: float = LEASE, payload_limit: int = payloads.DEFAULT_LIMIT,
                 bulk_io: IO | None = None, fast_timestamps: bool = True) -> None:
        self.store = store
        self._fast_timestamps = fast_timestamps
        self.payload_limit = payload_limit
        # Store calls carrying large payloads go to a thread (SQLite releases the interpreter while it writes), even
        # when ``io`` runs the small ones inline.
        self.bulk_io = bulk_io or io
        self.hub = hub
        self.functions = functions
        self._invoke = invoke
        self._io = io
        self.io = io  # for the HTTP API: the same store pool
        self._owner = owner
        self._lease = lease
        self._catalog = functions.catalog()
        self._loop: asyncio.AbstractEventLoop | None = None
        # One event per loop: a wake-up must reach every loop, not only the first one to notice it.
        self._wakes = [asyncio.Event() for _ in range(3)]
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._completions: list[tuple[ActivityWorkItem, dict[str, Any], asyncio.Future[bool]]] = []
        self._entities = EntityRunner(store, hub, functions, invoke, io, owner)

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the three loops until ``stop``; never raises."""
        # The SDK parses history timestamps ~10x faster (off: OVERCAST_DURABLE_FAST_TIMESTAMPS=0).
        fast_timestamps.install(self._fast_timestamps)
        self._loop = asyncio.get_running_loop()
        functions = self.functions
        # Only the loops of work this instance can do: an instance running the app's HTTP functions alone (an allow
        # list, as the Kubernetes manifests' HTTP deployment) starts orchestrations but must not claim them and
        # fail them as "doesn't exist". Orchestrators bring the activity loop for the built-in HTTP activity.
        steps = (("orchestrations", self._orchestration_step, bool(functions.orchestrators)),
                 ("activities", self._activity_step, bool(functions.activities or functions.orchestrators)),
                 ("entities", self._entities.step, bool(functions.entities)))
        self._tasks = [self._loop.create_task(self._run(name, step, wake))
                       for (name, step, runs), wake in zip(steps, self._wakes, strict=True) if runs]
        stop_watching = self.store.on_change(self.wake)
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            stop_watching()

    def stop(self) -> None:
        self._stopping = True
        self._wake_all()

    def _wake_all(self) -> None:
        for event in self._wakes:
            event.set()

    async def drain(self) -> None:
        """Wait for the episodes and activities in flight (uncommitted work is retried after its lease anyway)."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def wake(self) -> None:
        """New work was written (by this process): look now instead of at the next poll. Safe from any thread."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._wake_all)

    async def _run(self, name: str, step: Callable[[], Awaitable[bool]], wake: asyncio.Event) -> None:
        """Run ``step`` until stopped; it returns False when it found nothing to do. Never raises."""
        delay = MIN_POLL
        while not self._stopping:
            wake.clear()  # before looking: a wake-up during the step then ends the idle wait at once
            try:
                busy = await step()
            except Exception:
                log.exception("The durable %s loop failed; retrying.", name)
                busy = False
            if busy:
                delay = MIN_POLL
                continue
            await self._idle(delay, wake)
            delay = min(MAX_POLL, delay * 2)

    async def _idle(self, delay: float, wake: asyncio.Event) -> None:
        if wake.is_set():
            return
        due = await self._io(self.store.next_due_time, self.hub)
        if due is not None:
            delay = max(0.0, min(delay, due - time.time()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)

    # -- orchestrations --------------------------------------------------------------------------------------------

    async def _orchestration_step(self) -> bool:
        running = sum(1 for t in self._inflight if t.get_name().startswith("episode"))
        if running >= MAX_EPISODES:
            await asyncio.sleep(0.005)
            return True
        # Several instances per transaction: a busy engine writes less.
        leases = await self._io(self.store.lease_orchestrations, self.hub, self._owner, self._lease,
                                MAX_EPISODES - running)
        for lease in leases:
            task = asyncio.get_running_loop().create_task(self._episode_safely(lease),
                                                          name=f"episode {lease.instance_id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return bool(leases)

    async def _episode_safely(self, lease: OrchestrationLease) -> None:
        try:
            await self._episode(lease)
        except Exception:
            # Nothing was committed: the lease expires and the messages are delivered again.
            log.exception("Orchestration '%s' episode failed; it will be retried.", lease.instance_id)
            with contextlib.suppress(Exception):
                await self._io(self.store.release_lease, lease)

    async def _drop(self, lease: OrchestrationLease, why: str) -> None:
        log.debug("Dropping %d message(s) for '%s': %s", len(lease.messages), lease.instance_id, why)
        await self._io(self.store.commit_episode, lease, EpisodeCommit(consumed=[m.id for m in lease.messages]))

    async def _episode(self, lease: OrchestrationLease) -> None:
        record = lease.instance
        if record is None:
            return await self._drop(lease, "no such instance")
        rewind = next((m for m in lease.messages if h.event_type(m.event) == h.EventType.EXECUTION_REWOUND), None)
        if record.runtime_status == FAILED and rewind is not None:
            return await self._rewind(lease, rewind)
        if record.runtime_status in FINISHED:
            return await self._drop(lease, f"the instance is {record.runtime_status}")
        current = [m for m in lease.messages if m.execution_id in (None, record.execution_id)]
        kinds = [h.event_type(m.event) for m in current]
        if h.EventType.EXECUTION_SUSPENDED in kinds and h.EventType.EXECUTION_TERMINATED not in kinds:
            return await self._suspend(lease, record.output, record.custom_status)
        now = _now()
        instance = snapshot(record)
        consumed = [m.id for m in lease.messages]
        try:
            prepared = episode.prepare(EpisodeInput(instance, lease.history, [m.event for m in current], now,
                                                    self._catalog, self.payload_limit))
        except DurableProtocolError as exc:
            return await self._drop(lease, str(exc))
        response: OrchestratorResponse | None = None
        # A large history is framed, serialised and judged on a thread: each of those holds the interpreter only for
        # one JSON call at a time there, instead of for all of them in a row on the event loop.
        large = payloads.is_large(payloads.history_size(prepared.history))
        run = self.bulk_io if large else _call
        context_text = ""
        if prepared.needs_invocation:
            context_text = await run(context_json.build_context, prepared)
            response = await self._orchestrate(record.name, context_text, large)
        outcome = await run(episode.finish, prepared, response)
        if not prepared.needs_invocation and outcome.custom_status is None:
            # Terminated without running the orchestrator: its last custom status stays, as in DTFx.
            outcome = replace(outcome, custom_status=record.custom_status)
        if record.runtime_status == SUSPENDED and outcome.status is RuntimeStatus.RUNNING:
            log.info("Orchestration '%s' resumed.", record.instance_id)
        commit = to_commit(consumed, instance, outcome, now)
        committed = await (self.bulk_io if large else self._io)(self.store.commit_episode, lease, commit)
        if committed:
            if outcome.work or outcome.continue_as_new is not None:
                self.wake()
            if outcome.status is RuntimeStatus.FAILED and outcome.failure is not None:
                log.warning("Orchestration '%s' (%s) failed: %s", record.instance_id, record.name,
                            outcome.failure.reason)
        else:
            log.info("Orchestration '%s' changed during its episode; it runs again.", record.instance_id)

    async def _rewind(self, lease: OrchestrationLease, message: InboxMessage) -> None:
        """Drop the failure from the history and run the orchestrator again: the failed work is scheduled anew."""
        record = lease.instance
        assert record is not None
        commit = EpisodeCommit(
            consumed=[m.id for m in lease.messages], events=rewound_history(lease.history),
            reset=HistoryReset(record.execution_id, record.input),
            update=InstanceUpdate(RUNNING, None, record.custom_status),
            messages=[NewMessage(record.instance_id, dict(message.event), record.execution_id)],
        )
        if await self._io(self.store.commit_episode, lease, commit):
            log.info("Orchestration '%s' rewound.", record.instance_id)
            self.wake()

    async def _suspend(self, lease: OrchestrationLease, output: str | None, custom_status: str | None) -> None:
        """Only the suspend message is consumed: the rest waits (the store holds it) until resume or terminate."""
        message = next(m for m in lease.messages if h.event_type(m.event) == h.EventType.EXECUTION_SUSPENDED)
        commit = EpisodeCommit(consumed=[message.id], events=[dict(message.event)],
                               update=InstanceUpdate(SUSPENDED, output, custom_status))
        await self._io(self.store.commit_episode, lease, commit)

    async def _orchestrate(self, name: str, context: str, large: bool = False) -> OrchestratorResponse:
        spec = self.functions.orchestrator(name)
        if spec is None:
            return actions.response_from_exception(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.")
        from azure.functions.meta import Datum

        result = await self._invoke(Invocation(function=spec, trigger=Datum(context, "string"), reason="(null)",
                                               inline=not large))
        if result.succeeded:
            if large:
                parsed: OrchestratorResponse = await self.bulk_io(actions.response_from_return, result.raw_return)
                return parsed
            return actions.response_from_return(result.raw_return)
        message, details = _error_text(result)
        error = result.error
        return actions.response_from_exception(str(error) if error is not None else message, details)

    # -- activities ------------------------------------------------------------------------------------------------

    async def _activity_step(self) -> bool:
        running = sum(1 for t in self._inflight if t.get_name().startswith("activity"))
        if running >= MAX_ACTIVITIES:
            await asyncio.sleep(0.005)
            return True
        items = await self._io(self.store.lease_activities, self.hub, self._owner, self._lease,
                               min(8, MAX_ACTIVITIES - running))
        for item in items:
            task = asyncio.get_running_loop().create_task(self._activity(item), name=f"activity {item.name}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return bool(items)

    async def _activity(self, item: ActivityWorkItem) -> None:
        renewer = asyncio.get_running_loop().create_task(self._renew_activity(item))
        try:
            event = await self._run_activity(item)
        except Exception:
            log.exception("Activity '%s' of '%s' could not run; it will be retried.", item.name, item.instance_id)
            with contextlib.suppress(Exception):
                await self._io(self.store.abandon_activity, item, 1.0)
            return
        finally:
            renewer.cancel()
        try:
            if await self._complete(item, event):
                self.wake()
        except Exception:
            # The result is not recorded: the activity's lease runs out and it runs again (at least once).
            log.exception("Recording the result of activity '%s' of '%s' failed.", item.name, item.instance_id)

    async def _complete(self, item: ActivityWorkItem, event: dict[str, Any]) -> bool:
        """Complete through a batch: activities that finish in the same turn of the loop share one transaction."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._completions.append((item, event, answer))
        if len(self._completions) == 1:
            loop.call_soon(lambda: loop.create_task(self._flush_completions()))
        return await answer

    async def _flush_completions(self) -> None:
        batch, self._completions = self._completions, []
        try:
            size = sum(len(str(event.get("Result") or "")) for _, event, _ in batch)
            io = self.bulk_io if payloads.is_large(size) else self._io
            answers = await io(self.store.complete_activities, [(item, event) for item, event, _ in batch])
        except Exception as exc:
            for _, _, answer in batch:
                answer.set_exception(exc)
            return
        for (_, _, answer), done in zip(batch, answers, strict=True):
            answer.set_result(done)

    async def _renew_activity(self, item: ActivityWorkItem) -> None:
        while True:
            await asyncio.sleep(self._lease / 2)
            if not await self._io(self.store.renew_activity, item, self._lease):
                return

    async def _run_activity(self, item: ActivityWorkItem) -> dict[str, Any]:
        if item.name == h.HTTP_ACTIVITY_NAME:
            try:
                return h.task_completed(item.task_id, await run_http_activity(item.input), _now())
            except Exception as exc:  # a failed request is the task's failure, as in the extension
                reason = h.activity_failed_reason(item.name, f"{type(exc).__name__}: {exc}")
                return h.task_failed(item.task_id, reason, None, _now())
        spec = self.functions.activity(item.name)
        if spec is None:
            reason = f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function."
            return h.task_failed(item.task_id, reason, None, _now())
        from azure.functions.meta import Datum

        trigger = Datum(item.input if item.input is not None else "null", "string")
        result = await self._invoke(Invocation(function=spec, trigger=trigger, reason="(null)"))
        if result.succeeded:
            value = result.return_value
            text = str(value.value if value is not None and getattr(value, "type", None) is not None else "null")
            problem = payloads.too_large(f"result of activity '{item.name}'", text, self.payload_limit)
            if problem is not None:  # the orchestrator sees a failed task it can handle, as for any failure
                return h.task_failed(item.task_id, h.activity_failed_reason(item.name, problem), None, _now())
            return h.task_completed(item.task_id, text, _now())
        message, details = _error_text(result)
        return h.task_failed(item.task_id, h.activity_failed_reason(item.name, message), details, _now())
