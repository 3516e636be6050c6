"""The queue trigger listener: at-least-once delivery with the Storage extension's semantics (§6.1).

A message is deleted only after its function succeeds. A failure makes it visible again after
``visibilityTimeout``; the ``maxDequeueCount``-th failure moves it to ``<queue>-poison``. A body that cannot be
decoded, or whose JSON is nested too deeply to read, goes straight to poison. While a function runs, its message
stays invisible (a lease renewed at half its length), so a killed instance's messages come back to another one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from overcast.app.spec import FunctionSpec, RetrySpec
from overcast.backends.base import QueuedMessage, QueueStore
from overcast.bindings.queue import binding_data, decode_body, trigger_datum
from overcast.errors import InputError, UndecodableMessage
from overcast.invoke.model import Invocation, Result
from overcast.invoke.retry import invoke_with_retry
from overcast.triggers.queue_options import QueueOptions
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.triggers.queues")
MIN_POLL = 0.1
POISON_SUFFIX = "-poison"


def poison_queue_name(queue: str) -> str | None:
    """``<queue>-poison``, or None where the host has no poison queue (already poison, or name too long)."""
    if queue.endswith(POISON_SUFFIX) or len(queue) + len(POISON_SUFFIX) > 63:
        return None
    return queue + POISON_SUFFIX


class QueueListener:
    """Receives, dispatches and settles the messages of one queue. Subclasses (the blob trigger's shared queue)
    override ``prepare`` to turn a message into an invocation and ``poison_queue`` to pick the poison queue."""

    def __init__(
        self,
        spec: FunctionSpec | None,
        queue: str,
        store: QueueStore,
        invoke: Callable[[Invocation], Awaitable[Result]],
        options: QueueOptions,
        wakeups: Wakeups,
        io: Callable[..., Awaitable[Any]],
        retry: RetrySpec | None,
    ) -> None:
        self.spec = spec
        self.queue = queue
        self._store = store
        self._invoke = invoke
        self._options = options
        self._wakeups = wakeups
        self._io = io  # runs a blocking store call off the event loop
        self._retry = retry
        self._inflight: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._stopping = False
        # Deletes of succeeded messages, written together: one flush at a time, and the ones that finish while it
        # runs go in the next (fewer write transactions, so other writers wait less for the lock).
        self._deletes: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self._stopping = True
        self._wakeups.wake(self.queue)

    async def drain(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def run(self) -> None:
        """Poll until stopped; never raises (a store failure is logged and retried with back-off)."""
        delay = MIN_POLL
        options = self._options
        while not self._stopping:
            try:
                messages: list[QueuedMessage] = await self._io(
                    self._store.receive, self.queue, options.batch_size, options.lease
                )
            except Exception:
                log.exception("Receiving from queue '%s' failed; retrying in %.1f s.", self.queue, delay)
                messages = []
            if not messages:
                await self._wakeups.wait(self.queue, delay)
                delay = min(options.max_polling_interval, MIN_POLL + random.uniform(0.8, 1.2) * delay * 2)
                continue
            delay = MIN_POLL
            for message in messages:
                task = asyncio.get_running_loop().create_task(self._process(message))
                self._inflight.add(task)
                task.add_done_callback(self._done)
                # Start one message per turn of the loop: a batch started at once runs its first steps (decode,
                # bind, a no-op function) back to back, and an HTTP request that arrives meanwhile waits for all.
                await asyncio.sleep(0)
            # Poll again once in-flight work is down to newBatchThreshold (max parallel = batch + threshold).
            while len(self._inflight) > options.new_batch_threshold and not self._stopping:
                self._slot_free.clear()
                await self._slot_free.wait()

    async def _delete(self, message_id: str, receipt: str) -> bool:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._deletes.append((message_id, receipt, answer))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_deletes())
        return await answer

    async def _flush_deletes(self) -> None:
        try:
            while self._deletes:
                batch, self._deletes = self._deletes, []
                try:
                    deleted = await self._io(self._store.delete_many, self.queue, [(m, r) for m, r, _ in batch])
                except Exception as exc:
                    for _, _, answer in batch:
                        if not answer.done():  # a waiter cancelled at shutdown
                            answer.set_exception(exc)
                    continue
                for (_, _, answer), done in zip(batch, deleted, strict=True):
                    if not answer.done():
                        answer.set_result(done)
        finally:
            self._flusher = None

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_free.set()

    def poison_queue(self) -> str | None:
        return poison_queue_name(self.queue)

    async def prepare(self, message: QueuedMessage, body: bytes) -> tuple[Invocation, RetrySpec | None] | None:
        """The invocation for a message and its retry policy; None drops the message (it is deleted)."""
        assert self.spec is not None
        datum, metadata = trigger_datum(message, body)
        invocation = Invocation(
            function=self.spec, trigger=datum, trigger_metadata=metadata,
            reason=f"New queue message detected on '{self.queue}'.", binding_data=binding_data(message, body),
        )
        return invocation, self._retry

    async def _to_poison(self, message: QueuedMessage, receipt: str, why: str) -> None:
        poison = self.poison_queue()
        if poison is None:
            log.warning("%s Queue '%s' has no poison queue; the message stays invisible.", why, self.queue)
            return
        log.warning("%s Moving message to queue '%s'.", why, poison)
        await self._io(self._store.move, self.queue, message.id, receipt, poison)
        self._wakeups.wake(poison)

    async def _renew(self, message: QueuedMessage, receipt: list[str]) -> None:
        """Keep the message invisible while the function runs (the host renews at half the lease)."""
        while True:
            await asyncio.sleep(self._options.lease / 2)
            renewed = await self._io(self._store.update_visibility, self.queue, message.id, receipt[0],
                                     self._options.lease)
            if renewed is None:
                return
            receipt[0] = renewed

    async def _process(self, message: QueuedMessage) -> None:
        options = self._options
        assert message.pop_receipt is not None
        receipt = [message.pop_receipt]
        try:
            if message.dequeue_count > options.max_dequeue_count:
                await self._to_poison(message, receipt[0],
                                      f"Message has reached MaxDequeueCount of {options.max_dequeue_count}.")
                return
            try:
                body = decode_body(message.body, options.message_encoding)
            except UndecodableMessage as exc:
                await self._to_poison(message, receipt[0], f"{exc} MessageId={message.id}.")
                return
            try:
                prepared = await self.prepare(message, body)
            except InputError as exc:
                # Retrying cannot make the message readable: poison now, not after maxDequeueCount leases.
                await self._to_poison(message, receipt[0],
                                      f"Message {message.id} of queue '{self.queue}' cannot be read: {exc}")
                return
            if prepared is None:
                await self._io(self._store.delete, self.queue, message.id, receipt[0])
                return
            invocation, retry = prepared
            renewer = asyncio.get_running_loop().create_task(self._renew(message, receipt))
            try:
                result = await invoke_with_retry(self._invoke, invocation, retry)
            finally:
                renewer.cancel()
            if result.succeeded:
                await self._delete(message.id, receipt[0])
            elif message.dequeue_count >= options.max_dequeue_count:
                await self._to_poison(message, receipt[0],
                                      f"Message has reached MaxDequeueCount of {options.max_dequeue_count}.")
            else:
                await self._io(self._store.update_visibility, self.queue, message.id, receipt[0],
                               options.visibility_timeout)
                if options.visibility_timeout == 0:
                    self._wakeups.wake(self.queue)
        except Exception:
            # The message is not lost: its lease runs out and it is received again.
            log.exception("Settling message %s of queue '%s' failed.", message.id, self.queue)
