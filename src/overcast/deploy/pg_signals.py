"""The work waiting for each kind of background trigger, as one SQL query over Overcast's PostgreSQL schema.

KEDA's PostgreSQL scaler runs these against the app's database (the connection's own ``search_path``, like the
instances) and scales on the number each returns. They read the tables of
:mod:`overcast.backends.postgresql.schema`; ``tests/unit/deploy/test_pg_signals.py`` runs every one of them against
a database those migrations made, with real work in it, so a schema change that breaks one fails a test. Names
from the app are quoted as SQL literals (they are identifiers of the app's own config, never user input, but a
quote in one must not break the query). Times in the schema are seconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

NOW = "extract(epoch from now())"


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def queue_backlog(queue: str) -> str:
    """Visible, unexpired messages of a storage queue (what a queue trigger would take now)."""
    return (f"SELECT count(*) FROM queue_messages WHERE queue = {literal(queue.lower())} "
            f"AND visible <= {NOW} AND expires > {NOW}")


def blob_backlog(host_id: str, function: str, container: str, prefix: str) -> str:
    """Blobs the function has no receipt for (never claimed), plus trigger messages waiting on the host's shared
    blob-trigger queue (claimed, not yet run)."""
    from overcast.triggers.blob_receipts import trigger_queue_name

    receipt = (f"{literal(f'blobreceipts/{host_id}/Host.Functions.{function}/')} || b.etag || '/' || b.container "
               f"|| '/' || b.name")
    like = literal(prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    unclaimed = (f"SELECT count(*) FROM blobs b WHERE b.container = {literal(container)} AND b.name LIKE {like} "
                 f"AND NOT EXISTS (SELECT 1 FROM state s WHERE s.scope = {literal(host_id)} AND s.key = {receipt})")
    return f"SELECT ({unclaimed}) + ({queue_backlog(trigger_queue_name(host_id))})"


def timer_due(host_id: str, function: str, lead_seconds: int) -> str:
    """1 when the timer's next occurrence is due within ``lead_seconds`` (or it never ran: its first instance
    computes the schedule), else 0."""
    row = f"scope = {literal(host_id)} AND key = {literal(f'timers/{host_id}/Host.Functions.{function}/status')}"
    # State values are UTF-8 bytes (bytea): the status JSON is read back as text.
    due = (f"(convert_from(value, 'UTF8')::json->>'Next')::timestamptz "
           f"<= now() + interval '{int(lead_seconds)} seconds'")
    return (f"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM state WHERE {row}) THEN 1 "
            f"WHEN EXISTS (SELECT 1 FROM state WHERE {row} AND {due}) THEN 1 ELSE 0 END")


def durable_pending(hub: str) -> str:
    """Orchestration and entity messages of the task hub that are ready and whose instance no pod holds, plus its
    activity work items that are ready (a taken activity is invisible until its lease ends)."""
    hub_is = f"hub = {literal(hub)}"
    held = (f"SELECT 1 FROM durable_leases l WHERE l.hub = m.hub AND l.instance_id = m.instance_id "
            f"AND l.expires > {NOW}")
    return (f"SELECT (SELECT count(*) FROM durable_inbox m WHERE m.{hub_is} AND m.visible <= {NOW} "
            f"AND NOT EXISTS ({held})) + "
            f"(SELECT count(*) FROM durable_activities WHERE {hub_is} AND visible <= {NOW})")


def servicebus_active(entity: str, dead_letters: bool) -> str:
    """Messages of a Service Bus queue or subscription (``entity``: its normalized path) a receiver could take now:
    available (not scheduled later), unlocked and unexpired; or its dead-letter queue's messages."""
    if dead_letters:
        return f"SELECT count(*) FROM sb_messages WHERE entity = {literal(entity)} AND dead = 1"
    return (f"SELECT count(*) FROM sb_messages WHERE entity = {literal(entity)} AND dead = 0 AND available <= {NOW} "
            f"AND (locked_until IS NULL OR locked_until <= {NOW}) AND (expires IS NULL OR expires > {NOW})")


def eventhub_lag(hub: str, group: str) -> str:
    """Events of the hub past the consumer group's checkpoints, over every partition (a partition never
    checkpointed counts from its start)."""
    return (f"SELECT COALESCE(sum(p.next_seq - 1 - COALESCE(c.seq, -1)), 0) FROM eh_partitions p "
            f"LEFT JOIN eh_checkpoints c ON c.hub = p.hub AND c.grp = {literal(group)} AND c.part = p.part::text "
            f"WHERE p.hub = {literal(hub)}")


def cosmos_lag(database: str, container: str, lease_database: str, lease_container: str, lease_prefix: str) -> str:
    """Changes of the container after its leases' continuations (each lease covers one feed range), or 1 while no
    lease exists (the trigger never started: a pod must, to create them)."""
    leases = (f"FROM cosmos_items l WHERE l.db = {literal(lease_database)} AND l.coll = {literal(lease_container)} "
              f"AND left(l.id, {len(lease_prefix)}) = {literal(lease_prefix)} AND l.doc ? 'LeaseToken'")
    behind = (f"SELECT count(*) FROM cosmos_items i JOIN cosmos_items l ON l.db = {literal(lease_database)} "
              f"AND l.coll = {literal(lease_container)} AND left(l.id, {len(lease_prefix)}) = {literal(lease_prefix)} "
              f"AND l.doc ? 'LeaseToken' AND (l.doc->>'LeaseToken')::int = i.rng "
              f"WHERE i.db = {literal(database)} AND i.coll = {literal(container)} "
              f"AND i.seq > (l.doc->>'ContinuationToken')::bigint")
    return f"SELECT CASE WHEN NOT EXISTS (SELECT 1 {leases}) THEN 1 ELSE ({behind}) END"


def eventgrid_pending(subscriptions: Sequence[str]) -> str:
    """Events published to local topics and not yet routed (any of them may be routed to these), plus deliveries
    of ``subscriptions`` due now."""
    names = ", ".join(literal(name) for name in subscriptions)
    return (f"SELECT (SELECT count(*) FROM eventgrid_inbox) + "
            f"(SELECT count(*) FROM eventgrid_deliveries WHERE due <= {NOW} AND subscription IN ({names}))")
