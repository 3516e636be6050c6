"""Local Event Grid delivery: routes published events to subscriptions and delivers them, retrying on Event Grid's
schedule and dead-lettering to a blob container, all through the store so a restart or a second instance loses and
repeats nothing.

One :class:`EventGridService` per instance: it fans the inbox out (every instance may; the store routes each event
once), claims due deliveries under a lease, runs each (a function of this app, or an HTTP POST to a webhook) and
settles it: completed, rescheduled, or dead-lettered. Writes through this instance wake it at once, and so do
other instances' on a store that reports them (:mod:`overcast.backends.changes`: PostgreSQL's NOTIFY); otherwise
they are seen at the next poll (``OVERCAST_EVENTGRID_POLL_SECONDS``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from overcast.app.spec import FunctionSpec
from overcast.backends.blob_events import STORAGE_TOPIC, blob_subscription_name
from overcast.backends.eventgrid_store import Delivery, EventGridStore, Route
from overcast.eventgrid import events as ev
from overcast.eventgrid.config import EventGridConfig, Subscription
from overcast.eventgrid.kind import WAKE_NAME
from overcast.invoke.model import Invocation, Result

if TYPE_CHECKING:
    from overcast.triggers.manager import ListenerContext

log = logging.getLogger("overcast.host.triggers.eventgrid")
LEASE_SECONDS = 300.0  # a claimed delivery comes back if its instance dies; longer than a webhook's 30 s timeout
CLAIM_BATCH = 32
FAN_OUT_BATCH = 256
CONCURRENCY = 32
WEBHOOK_TIMEOUT_SECONDS = 30.0  # Event Grid waits 30 s for a webhook's answer
_OUTCOMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "TimedOut",
             413: "RequestEntityTooLarge", 503: "Busy"}


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt ended."""

    ok: bool
    error: str = ""
    status: int | None = None
    retryable: bool = True

    @property
    def outcome(self) -> str:
        if self.status is None:
            return "GenericError"
        return _OUTCOMES.get(self.status, f"HTTP{self.status}")


def is_event_grid_blob_trigger(spec: FunctionSpec) -> bool:
    trigger = spec.trigger
    return trigger.type.lower() == "blobtrigger" and str(trigger.get("source") or "").lower() == "eventgrid"


def blob_subscription(spec: FunctionSpec) -> Subscription:
    """The subscription Azure creates for a blob trigger with ``source="EventGrid"``: the storage account's
    BlobCreated events under the trigger's container."""
    container = str(spec.trigger.get("path") or "").partition("/")[0]
    return Subscription(
        name=blob_subscription_name(spec.name), topic=STORAGE_TOPIC, function=spec.name,
        filter=ev.EventFilter(subject_begins_with=f"/blobServices/default/containers/{container}/blobs/",
                              included_event_types=("Microsoft.Storage.BlobCreated",)),
        blob_trigger=True,
    )


class EventGridService:
    """Every Event Grid duty of one instance: the trigger endpoint's invocations and local topics' delivery."""

    def __init__(self, config: EventGridConfig, functions: Mapping[str, FunctionSpec], context: ListenerContext,
                 store: EventGridStore, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.functions = {name.lower(): spec for name, spec in functions.items()}
        self._context = context
        self._invoke: Callable[[Invocation], Awaitable[Result]] = context.invoke
        self.store = self._store = store
        self._io = context.io.background
        self.io = context.io  # the foreground pool: requests someone waits for
        self.clock = self._clock = clock
        knobs = context.settings.knobs
        self._schedule = knobs.eventgrid_retry_schedule or ev.RETRY_SCHEDULE
        self._poll = knobs.eventgrid_poll_seconds
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        # Deliveries left to other instances: those of the app's functions this instance does not run (an allow
        # list, as the Kubernetes manifests' deployments use). A subscription no longer configured is still taken,
        # and dropped.
        self.elsewhere = frozenset(s.name for s in config.all
                                   if s.endpoint is None and (s.function or "").lower() not in self.functions)

    # -- invoking functions ------------------------------------------------------------------------------------
    def event_function(self, name: str) -> FunctionSpec | None:
        """A loaded Event Grid-triggered function by name (any case)."""
        spec = self.functions.get(name.lower())
        return spec if spec is not None and spec.trigger.type.lower() == "eventgridtrigger" else None

    def blob_function(self, name: str) -> FunctionSpec | None:
        """A loaded blob-triggered function with ``source="EventGrid"`` by name (any case)."""
        spec = self.functions.get(name.lower())
        return spec if spec is not None and is_event_grid_blob_trigger(spec) else None

    def wake(self) -> None:
        self._context.wakeups.wake(WAKE_NAME)

    async def invoke_event(self, spec: FunctionSpec, event: Mapping[str, Any]) -> Result:
        trigger, metadata, binding_data = ev.trigger_value(event)
        return await self._invoke(Invocation(function=spec, trigger=trigger, trigger_metadata=metadata,
                                             binding_data=binding_data, reason=ev.trigger_reason(self._clock())))

    async def invoke_blob_event(self, spec: FunctionSpec, event: Mapping[str, Any]) -> Result | None:
        """A blob trigger run for a BlobCreated event (None: the event names no blob of this trigger, or the blob
        is gone: nothing to run)."""
        from overcast.bindings import blob as blob_binding
        from overcast.bindings.expressions import BlobPathPattern

        subject = str(event.get("subject") or "")
        prefix = "/blobServices/default/containers/"
        if not subject.startswith(prefix) or "/blobs/" not in subject:
            return None
        container, _, name = subject[len(prefix):].partition("/blobs/")
        pattern = BlobPathPattern.parse(str(spec.trigger.get("path") or ""))
        captures = pattern.match(container, name)
        if captures is None:
            return None
        found = await self._io(self._context.stores.blobs.get, container, name)
        if found is None:
            log.info("Blob '%s/%s' of a BlobCreated event no longer exists; '%s' does not run.", container, name,
                     spec.name)
            return None
        return await self._invoke(blob_binding.blob_invocation(
            spec, found[0], found[1], captures, reason=f"New blob detected(EventGrid): {container}/{name}"))

    # -- routing -----------------------------------------------------------------------------------------------
    def route(self, topic: str, event_text: str, published: float) -> list[Route]:
        subscriptions = self.config.subscriptions(topic)
        if not subscriptions:
            return []
        try:
            event = json.loads(event_text)
        except ValueError:
            log.error("An event published to topic '%s' is not JSON; it is dropped.", topic)
            return []
        if not isinstance(event, dict):
            return []
        return [Route(s.name, published + s.ttl_minutes * 60.0) for s in subscriptions if s.filter.matches(event)]

    # -- the delivery loop -------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Never raises: store failures are logged and retried."""
        wakeups = self._context.wakeups
        while not self._stopping:
            try:
                routed = await self._io(self._store.fan_out, self.route, FAN_OUT_BATCH)
                free = CONCURRENCY - len(self._running)
                claimed = await self._io(self._store.claim, min(CLAIM_BATCH, free), LEASE_SECONDS,
                                         self.elsewhere) if free else []
                for delivery in claimed:
                    await self._slots.acquire()
                    task = asyncio.get_running_loop().create_task(self._deliver(delivery))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                if routed or claimed:
                    continue
                due = await self._io(self._store.next_due, self.elsewhere)
                wait = self._poll if due is None else min(self._poll, max(0.0, due - self._clock()))
                if wait > 0:
                    await wakeups.wait(WAKE_NAME, wait)
            except Exception:
                log.exception("Event Grid delivery failed; retrying in %.1f s.", self._poll)
                await wakeups.wait(WAKE_NAME, self._poll)

    def stop(self) -> None:
        self._stopping = True
        self._context.wakeups.wake(WAKE_NAME)

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._settle(delivery)
        except Exception:
            log.exception("Event Grid delivery %s to '%s' failed; it is retried after its lease.", delivery.id,
                          delivery.subscription)
        finally:
            self._slots.release()
            if len(self._running) >= CONCURRENCY:  # the loop stopped claiming at capacity: a slot is free again
                self._context.wakeups.wake(WAKE_NAME)

    async def _settle(self, delivery: Delivery) -> None:
        store, receipt = self._store, delivery.receipt or ""
        subscription = self.config.find(delivery.subscription)
        if subscription is None:
            log.warning("Subscription '%s' of topic '%s' is no longer configured; its event %s is dropped.",
                        delivery.subscription, delivery.topic, delivery.id)
            await self._io(store.drop, delivery.id, receipt)
            return
        if self._clock() >= delivery.expires:
            await self._give_up(subscription, delivery, "TimeToLiveExceeded",
                                Attempt(False, delivery.last_error, delivery.last_status))
            return
        attempt = await self._attempt(subscription, delivery)
        if attempt.ok:
            await self._io(store.complete, delivery.id, receipt)
        elif not attempt.retryable or delivery.attempts >= subscription.max_attempts:
            await self._give_up(subscription, delivery, "MaxDeliveryAttemptsExceeded", attempt)
        else:
            delay = ev.next_retry_delay(delivery.attempts, self._schedule)
            log.warning("Event Grid delivery of event to %s failed (attempt %d of %d): %s; next attempt in %g s.",
                        subscription.target, delivery.attempts, subscription.max_attempts, attempt.error, delay)
            await self._io(store.retry, delivery.id, receipt, delay, attempt.error, attempt.status)

    async def _give_up(self, subscription: Subscription, delivery: Delivery, reason: str, attempt: Attempt) -> None:
        receipt = delivery.receipt or ""
        container = subscription.dead_letter_container
        if container is None:
            log.error("Event Grid dropped an event for %s (%s; no dead-letter container): %s", subscription.target,
                      reason, attempt.error)
            await self._io(self._store.dead_letter, delivery.id, receipt, reason, attempt.error, attempt.status)
            return
        now = self._clock()
        record = ev.dead_letter_record(delivery.event, reason, delivery.attempts, attempt.outcome, attempt.status,
                                       delivery.published, now)
        if attempt.error:
            record["lastDeliveryError"] = attempt.error  # Overcast's own field: the failure's message
        name = ev.dead_letter_blob_name(subscription.name, now)
        content = json.dumps([record]).encode()
        blobs = self._context.stores.blobs
        await self._io(lambda: blobs.put(container, name, content, content_type="application/json"))
        log.error("Event Grid dead-lettered an event for %s (%s) to blob '%s/%s'.", subscription.target, reason,
                  container, name)
        await self._io(self._store.dead_letter, delivery.id, receipt, reason, attempt.error, attempt.status)

    async def _attempt(self, subscription: Subscription, delivery: Delivery) -> Attempt:
        try:
            event = json.loads(delivery.event)
        except ValueError as exc:
            return Attempt(False, f"the event is not JSON: {exc}", retryable=False)
        if subscription.endpoint is not None:
            return await asyncio.to_thread(post_to_webhook, subscription, event, delivery.attempts)
        spec = self.functions.get((subscription.function or "").lower())
        if spec is None:
            return Attempt(False, f"function '{subscription.function}' is not loaded")
        if subscription.blob_trigger:
            result = await self.invoke_blob_event(spec, event)
            if result is None:
                return Attempt(True)
        else:
            result = await self.invoke_event(spec, event)
        return Attempt(True) if result.succeeded else Attempt(False, result.error_text or "the function failed")


def post_to_webhook(subscription: Subscription, event: Mapping[str, Any], attempts: int) -> Attempt:
    """One delivery to a webhook, as Event Grid sends it (blocking)."""
    cloud = ev.is_cloud_event(event)
    body = json.dumps(event if cloud else [event]).encode()
    headers = {
        "content-type": "application/cloudevents+json; charset=utf-8" if cloud else "application/json; charset=utf-8",
        "aeg-event-type": "Notification",
        "aeg-subscription-name": subscription.name.upper(),
        "aeg-delivery-count": str(max(0, attempts - 1)),
        "aeg-metadata-version": "1",
        "aeg-data-version": str(event.get("dataVersion") or ""),
    }
    request = urllib.request.Request(str(subscription.endpoint), data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return Attempt(False, f"{subscription.endpoint} cannot be reached: {getattr(exc, 'reason', exc)}")
    if status in ev.SUCCESS_STATUSES:
        return Attempt(True, status=status)
    return Attempt(False, f"{subscription.endpoint} answered {status}", status,
                   retryable=status not in ev.NO_RETRY_STATUSES)
