"""Input and output bindings backed by the stores: what the dispatcher loads before a call and writes after it.

Each binding type maps to a loader or writer here; HTTP outputs are the web layer's business and never come here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from overcast.app.spec import BindingSpec
from overcast.backends.base import QueueStore
from overcast.bindings.queue import encode_body, output_bodies
from overcast.invoke.model import Invocation
from overcast.triggers.wakeup import Wakeups

log = logging.getLogger("overcast.host.bindings")

# Binding types this release can write or read (others put their function in error at start).
OUTPUT_TYPES = frozenset({"queue"})
INPUT_TYPES: frozenset[str] = frozenset()


@dataclass
class BindingIO:
    queues: QueueStore
    wakeups: Wakeups
    queue_encoding: str
    io: Callable[..., Awaitable[Any]]

    def queue_name(self, binding: BindingSpec) -> str:
        return str(binding.get("queueName") or "").lower()

    async def load(self, invocation: Invocation, binding: BindingSpec) -> Any:
        raise TypeError(f"binding type '{binding.type}' has no input support")

    async def store(self, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        if binding.type == "queue":
            queue = self.queue_name(binding)
            for body in output_bodies(datum):
                await self.io(self.queues.enqueue, queue, encode_body(body, self.queue_encoding))
            self.wakeups.wake(queue)
            return
        raise TypeError(f"binding type '{binding.type}' has no output support")
