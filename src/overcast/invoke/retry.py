"""Retry policies (``@app.retry`` / host.json ``retry``): re-run the same trigger input within one delivery (§4.6)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from overcast.app.spec import RetrySpec
from overcast.invoke.model import Invocation, Result, new_invocation_id

log = logging.getLogger("overcast.host.retry")


def delay_for(policy: RetrySpec, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based), as the WebJobs SDK computes them."""
    if policy.strategy == "fixed_delay":
        return float(policy.delay_interval)
    low, high = policy.minimum_interval, policy.maximum_interval
    if attempt <= 1:
        return min(low, high)
    return float(min(high, low + random.uniform(0.8, 1.2) * (2 ** (attempt - 1)) * low))


async def invoke_with_retry(
    invoke: Callable[[Invocation], Awaitable[Result]], invocation: Invocation, policy: RetrySpec | None
) -> Result:
    """Invoke, then retry failures per ``policy``; each attempt gets a fresh invocation id and the retry context."""
    if policy is not None:
        # The host hands every attempt, the first included, the policy's maxRetryCount (retry_count 0 first), so
        # the documented "if retry_count == max_retry_count: give up quietly, else raise" sample retries.
        invocation.max_retry_count = policy.max_retry_count
    result = await invoke(invocation)
    if policy is None or result.succeeded:
        return result
    attempt = 0
    while not result.succeeded and (policy.max_retry_count == -1 or attempt < policy.max_retry_count):
        attempt += 1
        delay = delay_for(policy, attempt)
        log.warning(
            "Function '%s' failed (attempt %d); retrying in %.1f s (retry %d of %s).",
            invocation.function.name, attempt, delay, attempt,
            "forever" if policy.max_retry_count == -1 else policy.max_retry_count,
        )
        await asyncio.sleep(delay)
        invocation.invocation_id = new_invocation_id()
        invocation.retry_count = attempt
        invocation.previous_error = result.error
        result = await invoke(invocation)
    if not result.succeeded:
        log.error("All retries failed for function '%s' (%d retries).", invocation.function.name, attempt)
    return result
