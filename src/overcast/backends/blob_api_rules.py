"""The Blob API's pure rules: the lease state machine of blobs and containers and the conditional headers, as the
REST reference's "Lease Blob", "Lease Container" and "Specifying conditional headers" pages give them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from overcast.backends.blob_api_store import INFINITE, Conditions, Lease, LeaseAction
from overcast.errors import BlobApiRefusal

# -- leases ------------------------------------------------------------------------------------------------------


def effective_lease(doc: Mapping[str, Any], now: float) -> Lease:
    """The lease as of ``now``: a fixed lease past its end is expired, a breaking one past its break is broken."""
    raw = doc.get("lease") or {}
    lease = Lease(raw.get("state", "available"), raw.get("duration", ""), raw.get("id", ""),
                  int(raw.get("seconds", 0)), float(raw.get("expires", 0.0)))
    if lease.state == "leased" and lease.duration == "fixed" and lease.expires <= now:
        return Lease("expired", "", lease.lease_id, lease.seconds)
    if lease.state == "breaking" and lease.expires <= now:
        return Lease("broken", "", lease.lease_id)
    return lease


def lease_doc(lease: Lease) -> dict[str, Any]:
    return {"state": lease.state, "duration": lease.duration, "id": lease.lease_id, "seconds": lease.seconds,
            "expires": lease.expires}


def lease_step(lease: Lease, action: LeaseAction, lease_id: str | None, proposed: str | None, duration: int,
               break_period: int | None, now: float) -> tuple[Lease, int | None]:
    """The lease after ``action`` and, for a break, the seconds until it is free; raises BlobApiRefusal."""
    state = lease.state
    if action == "acquire":
        if duration != INFINITE and not 15 <= duration <= 60:
            raise BlobApiRefusal("InvalidHeaderValue", "x-ms-lease-duration must be -1 or 15-60")
        if state == "breaking":
            raise BlobApiRefusal("LeaseIsBreakingAndCannotBeAcquired")
        if state == "leased" and lease_id != lease.lease_id and proposed != lease.lease_id:
            raise BlobApiRefusal("LeaseAlreadyPresent")
        new_id = proposed or (lease.lease_id if state == "leased" else str(uuid.uuid4()))
        return _held(new_id, duration, now), None
    if action == "break":
        if state in ("available", "expired"):
            raise BlobApiRefusal("LeaseNotPresentWithLeaseOperation")
        if state == "broken":
            return lease, 0
        remaining = INFINITE if lease.duration == "infinite" else max(0, int(lease.expires - now))
        period = 0 if break_period is None and lease.duration == "infinite" else break_period
        wait = remaining if period is None else (period if remaining == INFINITE else min(period, remaining))
        if state == "breaking":
            wait = min(wait, max(0, int(lease.expires - now)))
        if wait <= 0:
            return Lease("broken", "", lease.lease_id), 0
        return Lease("breaking", "", lease.lease_id, 0, now + wait), wait
    if lease_id is None:
        raise BlobApiRefusal("MissingRequiredHeader", "x-ms-lease-id")
    if state == "available":
        raise BlobApiRefusal("LeaseNotPresentWithLeaseOperation")
    if lease_id != lease.lease_id:
        raise BlobApiRefusal("LeaseIdMismatchWithLeaseOperation")
    if action == "release":
        return Lease(), None
    if action == "renew":
        if state in ("breaking", "broken"):
            raise BlobApiRefusal("LeaseIsBrokenAndCannotBeRenewed")
        return _held(lease.lease_id, INFINITE if lease.duration == "infinite" else lease.seconds, now), None
    # change
    if state != "leased" or not proposed:
        raise BlobApiRefusal("LeaseIsBrokenAndCannotBeRenewed" if state in ("breaking", "broken")
                             else "LeaseNotPresentWithLeaseOperation")
    return Lease("leased", lease.duration, proposed, lease.seconds, lease.expires), None


def _held(lease_id: str, duration: int, now: float) -> Lease:
    if duration == INFINITE:
        return Lease("leased", "infinite", lease_id)
    return Lease("leased", "fixed", lease_id, duration, now + duration)


def check_lease(lease: Lease, lease_id: str | None, resource: str, write: bool) -> None:
    """A write needs the lease's id while the resource is leased; a given id must be the current one."""
    held = lease.state in ("leased", "breaking")
    if lease_id is None:
        if held and write:
            raise BlobApiRefusal("LeaseIdMissing")
        return
    if not held:
        raise BlobApiRefusal(f"LeaseNotPresentWith{resource}Operation")
    if lease_id != lease.lease_id:
        raise BlobApiRefusal(f"LeaseIdMismatchWith{resource}Operation")


# -- conditions --------------------------------------------------------------------------------------------------


def check_conditions(etag: str | None, modified: float | None, cond: Conditions, read: bool) -> None:
    """Raise ConditionNotMet (412), NotModified (a 304 for reads) or BlobAlreadyExists (If-None-Match: * on a write)."""
    exists = etag is not None
    if cond.if_match is not None:
        wanted = {e.strip() for e in cond.if_match.split(",")}
        if not exists or ("*" not in wanted and etag not in wanted):
            raise BlobApiRefusal("ConditionNotMet")
    if cond.if_unmodified_since is not None and exists and int(modified or 0) > cond.if_unmodified_since:
        raise BlobApiRefusal("ConditionNotMet")
    fails_none_match = False
    if cond.if_none_match is not None and exists:
        wanted = {e.strip() for e in cond.if_none_match.split(",")}
        if "*" in wanted:
            if not read:
                raise BlobApiRefusal("BlobAlreadyExists")
            fails_none_match = True
        fails_none_match = fails_none_match or etag in wanted
    not_modified = cond.if_modified_since is not None and exists and int(modified or 0) <= cond.if_modified_since
    if fails_none_match or not_modified:
        raise BlobApiRefusal("NotModified" if read else "ConditionNotMet")
    if cond.if_modified_since is not None and not exists and not read:
        raise BlobApiRefusal("ConditionNotMet")
