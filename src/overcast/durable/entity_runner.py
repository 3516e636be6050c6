"""Entity batches (spec §5): lease an entity's queued operations, run them in one invocation of the entity function,
store the new state and answer the orchestrations that called, in one transaction.

Operations arrive as ``EventRaised{Name: "op", Input: RequestMessage JSON}`` (``{"op", "signal"?, "input", "id",
"parent", "parentExecution"}``), from orchestrations (``call_entity``/``signal_entity``) and from the client API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from overcast.config import json_text
from overcast.durable.core import entities
from overcast.durable.core.entities import EntityOperation
from overcast.durable.registry import DurableFunctions
from overcast.durable.store import DurableStore, EntityLease, InboxMessage, NewMessage
from overcast.invoke.model import Invocation, Result

log = logging.getLogger("overcast.host.durable")
ENTITY_LEASE = 60.0  # an entity batch is one short invocation
MAX_BATCH = 100


def operation_of(message: InboxMessage) -> EntityOperation | None:
    """The operation a message carries, or None when it is not one (it is then dropped with a warning)."""
    event = message.event
    text = event.get("Input")
    try:
        request = json_text.loads(text) if isinstance(text, str) else None
    except ValueError:
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return None
    signal = bool(request.get("signal")) or not request.get("parent")
    return EntityOperation(
        operation=request["op"],
        input=request.get("input"),
        is_signal=signal,
        request_id=request.get("id"),
        parent_instance_id=request.get("parent"),
        parent_execution_id=request.get("parentExecution"),
    )


class EntityRunner:
    def __init__(self, store: DurableStore, hub: str, functions: DurableFunctions,
                 invoke: Callable[[Invocation], Awaitable[Result]], io: Callable[..., Awaitable[Any]],
                 owner: str) -> None:
        self._store = store
        self._hub = hub
        self._functions = functions
        self._invoke = invoke
        self._io = io
        self._owner = owner

    async def step(self) -> bool:
        """Run one batch; False when no entity has work."""
        lease = await self._io(self._store.lease_next_entity, self._hub, self._owner, ENTITY_LEASE, MAX_BATCH)
        if lease is None:
            return False
        try:
            await self._batch(lease)
        except Exception:
            log.exception("Entity '%s' batch failed; it will be retried.", lease.instance_id)
            await self._io(self._store.release_lease, lease)
        return True

    async def _batch(self, lease: EntityLease) -> None:
        name, key = entities.parse_entity_id(lease.instance_id)
        operations: list[EntityOperation] = []
        for message in lease.messages:
            operation = operation_of(message)
            if operation is None:
                log.warning("Entity '%s': dropping a message that is not an operation: %.200s",
                            lease.instance_id, json.dumps(message.event))
            else:
                operations.append(operation)
        consumed = [m.id for m in lease.messages]
        exists = lease.state is not None
        spec = self._functions.entity(name)
        if not operations:
            await self._io(self._store.commit_entity_batch, lease, consumed, lease.state, [])
            return
        if spec is None:
            outcome = entities.failed_batch(len(operations), f"The entity '{name}' does not exist.", exists,
                                            lease.state)
        else:
            from azure.functions.meta import Datum

            payload = entities.build_batch(name, key, exists, lease.state, operations)
            result = await self._invoke(Invocation(function=spec, trigger=Datum(payload, "string"), reason="(null)"))
            if result.succeeded:
                outcome = entities.parse_batch_response(result.raw_return, len(operations))
            else:
                outcome = entities.failed_batch(len(operations), str(result.error or "timed out"), exists,
                                                lease.state)
        now = datetime.now(timezone.utc)
        replies = [NewMessage(r.instance_id, r.event, r.execution_id)
                   for r in entities.caller_replies(operations, outcome, now)]
        await self._io(self._store.commit_entity_batch, lease, consumed, outcome.state, replies)
