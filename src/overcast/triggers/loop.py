"""The one message listener loop: at-least-once delivery over any :class:`MessageSource` (§6.1).

A message is completed only after its function succeeds; a failure abandons it (back after the policy's
``retry_delay``) until its ``max_deliveries``-th failure dead-letters it. A message received more often than that
(its earlier runs were killed) is dead-lettered before it runs. A body that cannot be decoded, or that the handler
cannot read (:class:`InputError`), is dead-lettered at once. While a function runs its lock is renewed, so a killed
instance's messages come back to another one after their lock runs out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from overcast.app.spec import RetrySpec
from overcast.errors import InputError
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers.messages import Delivery, LoopPolicy, MessageSource
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.queues")
MIN_POLL = 0.1
# What a handler makes of a delivery: the invocation and its retry policy, or None to drop the message (completed).
Prepared = tuple[Invocation, RetrySpec | None] | None
Handler = Callable[[Delivery], Awaitable[Prepared]]


class MessageLoop:
    """Receives, dispatches and settles the messages of one source."""

    def __init__(self, source: MessageSource, handler: Handler, invoke: Callable[[Invocation], Awaitable[Result]],
                 policy: LoopPolicy, wakeups: Wakeups,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.source = source
        self._handler = handler
        self._invoke = invoke
        self.policy = policy
        self._wakeups = wakeups
        self._sleep = sleep  # the renewal timer (tests drive it)
        self._inflight: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._stopping = False
        # Completions, written together: one flush at a time, and the ones that finish while it runs go in the next
        # (fewer write transactions, so other writers wait less for the lock).
        self._completions: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(self.name)

    async def drain(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def run(self) -> None:
        """Poll until stopped; never raises (a source failure is logged and retried with back-off)."""
        delay = MIN_POLL
        policy = self.policy
        while not self._stopping:
            try:
                deliveries = await self.source.receive(policy.batch_size)
            except Exception:
                log.exception("Receiving from queue '%s' failed; retrying in %.1f s.", self.name, delay)
                deliveries = []
            if not deliveries:
                await self._wakeups.wait(self.name, delay)
                delay = min(policy.max_polling_interval, MIN_POLL + random.uniform(0.8, 1.2) * delay * 2)
                continue
            delay = MIN_POLL
            for delivery in deliveries:
                task = asyncio.get_running_loop().create_task(self._process(delivery))
                self._inflight.add(task)
                task.add_done_callback(self._done)
                # Start one message per turn of the loop: a batch started at once runs its first steps (decode,
                # bind, a no-op function) back to back, and an HTTP request that arrives meanwhile waits for all.
                await asyncio.sleep(0)
            # Poll again once in-flight work is down to newBatchThreshold (max parallel = batch + threshold).
            while len(self._inflight) > policy.new_batch_threshold and not self._stopping:
                self._slot_free.clear()
                await self._slot_free.wait()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_free.set()

    async def _complete(self, delivery: Delivery) -> bool:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._completions.append((delivery, answer))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_completions())
        return await answer

    async def _flush_completions(self) -> None:
        try:
            while self._completions:
                batch, self._completions = self._completions, []
                try:
                    done = await self.source.complete([d for d, _ in batch])
                except Exception as exc:
                    for _, answer in batch:
                        if not answer.done():  # a waiter cancelled at shutdown
                            answer.set_exception(exc)
                    continue
                for (_, answer), ok in zip(batch, done, strict=True):
                    if not answer.done():
                        answer.set_result(ok)
        finally:
            self._flusher = None

    async def _renew(self, delivery: Delivery, every: float) -> None:
        """Keep the message locked while the function runs (the host renews at half the lease)."""
        while True:
            await self._sleep(every)
            if not await self.source.renew(delivery):
                return

    def _limit(self) -> str:
        return f"Message has reached {self.policy.limit_name} of {self.policy.max_deliveries}."

    async def _process(self, delivery: Delivery) -> None:
        policy = self.policy
        limit = policy.max_deliveries
        try:
            if limit is not None and delivery.delivery_count > limit:
                await self.source.dead_letter(delivery, self._limit())
                return
            if delivery.problem is not None:
                await self.source.dead_letter(delivery, delivery.problem)
                return
            try:
                prepared = await self._handler(delivery)
            except InputError as exc:
                # Retrying cannot make the message readable: dead-letter now, not after max_deliveries leases.
                await self.source.dead_letter(
                    delivery, f"Message {delivery.id} of queue '{self.name}' cannot be read: {exc}")
                return
            if prepared is None:
                await self._complete(delivery)
                return
            invocation, retry = prepared
            renewer = None
            if policy.renew_every is not None:
                renewer = asyncio.get_running_loop().create_task(self._renew(delivery, policy.renew_every))
            try:
                result = await invoke_with_retry(self._invoke, invocation, retry)
            finally:
                if renewer is not None:
                    renewer.cancel()
            if result.succeeded:
                await self._complete(delivery)
            elif limit is not None and delivery.delivery_count >= limit:
                await self.source.dead_letter(delivery, self._limit())
            else:
                await self.source.abandon(delivery, policy.retry_delay)
                if policy.retry_delay == 0:
                    self._wakeups.wake(self.name)
        except Exception:
            # The message is not lost: its lock runs out and it is received again.
            log.exception("Settling message %s of queue '%s' failed.", delivery.id, self.name)
