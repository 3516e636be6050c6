"""The change feed's leases, kept as documents in the lease container, as the change feed processor keeps them.

One lease per feed range of the monitored container and per ``leaseContainerPrefix``: it holds the range's
continuation (the last change sequence number handled) and its owner, who renews it; a lease not renewed for
``leaseExpirationInterval`` is free. Every write of a lease is conditional on the ``_etag`` read (optimistic
concurrency), so two instances never both win one lease. Instances balance the leases between them: each takes free
or expired leases up to its share; when still short it asks an instance holding more than its share for one
(``RequestedBy``), and that owner hands the lease over between two batches, so a rebalance never delivers a batch
twice (the processor steals instead, and may). Every call here blocks on the store; the listener runs them on its
store pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overcast.backends.documents_store import Document, DocumentStore
from overcast.errors import DocumentConflict, DocumentNotFound, DocumentPrecondition

LEASE_CONTAINER = "leases"
# Azure's defaults (host-behaviour §6.6), in seconds.
ACQUIRE_INTERVAL, EXPIRATION_INTERVAL, RENEW_INTERVAL, FEED_POLL_DELAY = 13.0, 60.0, 17.0, 5.0


@dataclass(frozen=True)
class LeaseOptions:
    database: str  # the monitored container
    container: str
    lease_database: str
    lease_container: str = LEASE_CONTAINER
    prefix: str = ""
    create_lease_container: bool = False
    expiration: float = EXPIRATION_INTERVAL
    renew: float = RENEW_INTERVAL
    start_from_beginning: bool = False
    start_from_time: float | None = None  # seconds since the epoch

    @property
    def id_prefix(self) -> str:
        return f"{self.prefix}overcast_{self.database}_{self.container}.."


@dataclass
class Lease:
    id: str
    feed_range: int
    continuation: int  # the last change sequence handled
    owner: str | None
    renewed: float
    etag: str
    requested_by: str | None = None  # an instance short of its share asks the owner to hand this lease over
    document: Document = field(repr=False, default_factory=dict)

    @classmethod
    def from_document(cls, document: Document) -> Lease:
        return cls(str(document["id"]), int(document["LeaseToken"]), int(document["ContinuationToken"]),
                   document.get("Owner"), float(document.get("renewed", 0.0)), str(document["_etag"]),
                   document.get("RequestedBy"), document)

    def expired(self, now: float, expiration: float) -> bool:
        return self.owner is None or now - self.renewed >= expiration


def missing_containers_message(options: LeaseOptions) -> str:
    """Azure's listener error when the monitored or the lease container is missing."""
    return (
        f"Either the source container '{options.container}' (in database '{options.database}') or the lease "
        f"container '{options.lease_container}' (in database '{options.lease_database}') does not exist. Both "
        f"containers must exist before the listener starts. To automatically create the lease container, set "
        f"'CreateLeaseContainerIfNotExists' to 'true'."
    )


class LeaseManager:
    """One listener's view of its leases (blocking calls)."""

    def __init__(self, store: DocumentStore, options: LeaseOptions, owner: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.options = options
        self.owner = owner
        self._clock = clock
        self.ranges = 0

    def prepare(self) -> int:
        """Check both containers (creating the lease container when allowed) and create the range leases that do
        not exist yet, each starting where the trigger's options say; the monitored container's feed ranges."""
        options = self.options
        monitored = self.store.get_container(options.database, options.container)
        if monitored is None:
            raise DocumentNotFound(missing_containers_message(options))
        if self.store.get_container(options.lease_database, options.lease_container) is None:
            if not options.create_lease_container:
                raise DocumentNotFound(missing_containers_message(options))
            self.store.create_container(options.lease_database, options.lease_container, "/id", feed_ranges=1)
        existing = {lease.feed_range for lease in self.leases()}
        if len(existing) < monitored.feed_ranges:
            start = self._start_position(monitored.sequence)
            for feed_range in range(monitored.feed_ranges):
                if feed_range not in existing:
                    self._create(feed_range, start)
        self.ranges = monitored.feed_ranges
        return self.ranges

    def _start_position(self, latest: int) -> int:
        """Where a new lease starts: now (the default), the beginning, or startFromTime (no lease existed yet)."""
        if self.options.start_from_beginning:
            return 0
        if self.options.start_from_time is not None:
            return self.store.sequence_before(self.options.database, self.options.container,
                                              self.options.start_from_time)
        return latest

    def _create(self, feed_range: int, continuation: int) -> None:
        document = self._document(f"{self.options.id_prefix}{feed_range}", feed_range, continuation, None, 0.0)
        # Another instance may create it first: its start position is as good as ours.
        with contextlib.suppress(DocumentConflict):
            self.store.write(self.options.lease_database, self.options.lease_container, document, "create")

    def _document(self, lease_id: str, feed_range: int, continuation: int, owner: str | None,
                  renewed: float) -> Document:
        return {"id": lease_id, "version": 1, "LeaseToken": str(feed_range),
                "ContinuationToken": str(continuation), "Owner": owner, "RequestedBy": None, "renewed": renewed,
                "timestamp": self._stamp(renewed), "Properties": {}}

    def leases(self) -> list[Lease]:
        """Every lease of this listener's prefix and container, by feed range."""
        prefix = self.options.id_prefix
        documents = self.store.items(self.options.lease_database, self.options.lease_container)
        found = [Lease.from_document(d) for d in documents
                 if str(d.get("id", "")).startswith(prefix) and "LeaseToken" in d]
        return sorted(found, key=lambda lease: lease.feed_range)

    def _read(self, lease_id: str) -> Lease | None:
        found = self.store.read(self.options.lease_database, self.options.lease_container, lease_id, lease_id)
        return None if found is None else Lease.from_document(found)

    def _update(self, lease: Lease, changes: dict[str, Any], *, renew: bool, as_owner: bool) -> Lease | None:
        """Write the lease with ``changes`` if nobody wrote it since it was read; None when that fails.

        ``as_owner``: this instance writes as the lease's owner; when the write loses to another one (a hand-over
        request, which leaves the owner as it is) the lease is read again and the write retried while it is still
        ours.
        """
        for _ in range(5):
            document = {**lease.document, **changes}
            if renew:
                document["renewed"] = self._clock()
                document["timestamp"] = self._stamp(document["renewed"])
            try:
                stored = self.store.write(self.options.lease_database, self.options.lease_container, document,
                                          "replace", if_match=lease.etag)
            except DocumentNotFound:
                return None
            except DocumentPrecondition:
                fresh = self._read(lease.id) if as_owner else None
                if fresh is None or fresh.owner != self.owner:
                    return None
                lease = fresh
                continue
            return Lease.from_document(stored)
        return None

    def renew(self, lease: Lease) -> Lease | None:
        """Renew a held lease; None when it was lost (it expired and another instance took it)."""
        return self._update(lease, {}, renew=True, as_owner=True)

    def checkpoint(self, lease: Lease, sequence: int) -> Lease | None:
        """Record that the range's changes up to ``sequence`` are handled; None when the lease was lost."""
        return self._update(lease, {"ContinuationToken": str(sequence)}, renew=True, as_owner=True)

    def hand_over(self, lease: Lease) -> bool:
        """Give a held lease to the instance that asked for it (between two batches); True when done."""
        if not lease.requested_by or lease.requested_by == self.owner:
            return False
        given = self._update(lease, {"Owner": lease.requested_by, "RequestedBy": None}, renew=True, as_owner=True)
        return given is not None

    def release(self) -> None:
        """Give up every lease this owner has in the store (a clean stop), keeping their continuations, so another
        instance takes them at once, and withdraw this owner's hand-over requests.

        Read from the store, not from what the listener holds: another instance may have just handed a lease over
        (its listener takes it up at its next balance), a lease whose renewal came late (a busy machine) is still
        written with this owner's name though the listener counts it lost, and a request left behind would have a
        lease handed over to an instance that is gone; each would otherwise wait out its expiration.
        """
        for lease in self.leases():
            if lease.owner == self.owner:
                self._update(lease, {"Owner": None, "RequestedBy": None, "renewed": 0.0}, renew=False, as_owner=True)
            elif lease.requested_by == self.owner:
                self._update(lease, {"RequestedBy": None}, renew=False, as_owner=False)

    def _stamp(self, seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds or self._clock(), dt.timezone.utc).isoformat().replace("+00:00", "Z")

    def balance(self) -> dict[int, Lease]:
        """Renew what this owner holds, take free and expired leases up to its share, steal one when short; the
        leases it holds now, by feed range."""
        now = self._clock()
        expiration = self.options.expiration
        current = self.leases()
        mine: dict[int, Lease] = {}
        for lease in current:
            if lease.owner == self.owner and not lease.expired(now, expiration):
                renewed = self.renew(lease) if now - lease.renewed >= self.options.renew else lease
                if renewed is not None:
                    mine[lease.feed_range] = renewed
        live = [lease for lease in current if not lease.expired(now, expiration)]
        owners = {lease.owner for lease in live} | {self.owner}
        share = math.ceil(len(current) / len(owners)) if current else 0
        for lease in current:
            if len(mine) >= share:
                break
            if lease.feed_range not in mine and lease.expired(now, expiration):
                taken = self._update(lease, {"Owner": self.owner, "RequestedBy": None}, renew=True, as_owner=False)
                if taken is not None:
                    mine[taken.feed_range] = taken
        if len(mine) < share:
            counts: dict[Any, list[Lease]] = {}
            for lease in live:
                if lease.owner != self.owner:
                    counts.setdefault(lease.owner, []).append(lease)
            richest = max(counts.values(), key=len, default=[])
            if len(richest) > share and not any(lease.requested_by == self.owner for lease in richest):
                self._update(richest[-1], {"RequestedBy": self.owner}, renew=False, as_owner=False)
        return dict(sorted(mine.items()))
