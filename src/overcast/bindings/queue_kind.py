"""The ``queue`` kind: the ``queueTrigger`` trigger (a listener per function) and the ``queue`` output binding."""

from __future__ import annotations

from typing import Any

from overcast.app.spec import BindingSpec
from overcast.bindings.queue import encode_body, output_bodies
from overcast.invoke.model import Invocation
from overcast.kinds import BindingKind, BindingValues, ManualInput, Need


class QueueKind(BindingKind):
    trigger = output = listened = connection = True
    trigger_needs: frozenset[Need] = frozenset({"queues", "consumer"})
    binding_needs: frozenset[Need] = frozenset({"queues", "producer", "binding_io"})
    listener = "overcast.triggers.queue:queue_listeners"

    async def store(self, values: BindingValues, invocation: Invocation, binding: BindingSpec, datum: Any) -> None:
        queues = values.store_for("queues", binding)
        queue = (values.resolve(invocation, binding, "queueName") or "").lower()
        for body in output_bodies(datum):
            await values.call(queues.enqueue, queue, encode_body(body, values.queue_encoding))
        values.wake(queue)

    def manual_input(self, text: str) -> ManualInput:
        """A message that was never enqueued: no id, no pop receipt, dequeue count 0 (as the host builds it)."""
        from azure.functions.meta import Datum

        return Datum(text, "string"), {"DequeueCount": Datum("0", "json"), "QueueTrigger": Datum(text, "string")}
