"""What Azure Storage accepts as names, keys and arguments; every backend checks through here.

Each check raises :class:`StoreError` where the Azure service would answer 400, with a message that says what to
use instead, so an app that works here does not fail on its first deployment. Name checks are cached because the
queue listeners repeat them on every poll.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from overcast.errors import PayloadTooLargeError, StoreError

_DNS_NAME = re.compile(r"[a-z0-9-]+")
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
# Containers Azure creates or reserves with these exact names.
_SPECIAL_CONTAINERS = frozenset({"$root", "$logs", "$web"})
# Azure refuses these in PartitionKey/RowKey: '/', '\\', '#', '?' and the C0/C1 control characters.
_BAD_KEY_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_KEY_LENGTH = 1024
MAX_BLOB_NAME_LENGTH = 1024
# Azure Storage queues: a message is at most 64 KiB as sent, i.e. after the base64 encoding the Functions host
# applies by default (49,152 bytes of body at most); the service answers 413 RequestBodyTooLarge (MaxLimit 65536).
MAX_MESSAGE_BYTES = 64 * 1024


def _dns_name_problem(name: str) -> str | None:
    """Why ``name`` breaks the queue/container rules (DNS-style), or None when it is valid."""
    if not 3 <= len(name) <= 63:
        return f"it has {len(name)} characters"
    if not _DNS_NAME.fullmatch(name):
        if name.lower() != name and _DNS_NAME.fullmatch(name.lower()):
            return "it contains upper-case letters"
        bad = sorted({c for c in name if not _DNS_NAME.fullmatch(c)})
        return "it contains " + ", ".join(repr(c) for c in bad)
    if name.startswith("-") or name.endswith("-"):
        return "it starts or ends with a hyphen"
    if "--" in name:
        return "it contains two hyphens in a row"
    return None


@functools.lru_cache(maxsize=1024)
def validate_queue_name(name: str) -> str:
    """``name`` when Azure accepts it as a queue name (callers lower-case it first, as the host does)."""
    problem = _dns_name_problem(name)
    if problem is not None:
        raise StoreError(
            f"Queue name '{name}' is invalid: {problem}; use 3-63 lower-case letters, digits and hyphens "
            f"(no hyphen at the start or end, never two in a row)."
        )
    return name


@functools.lru_cache(maxsize=1024)
def validate_container_name(name: str) -> str:
    if name in _SPECIAL_CONTAINERS:
        return name
    problem = _dns_name_problem(name)
    if problem is not None:
        raise StoreError(
            f"Blob container name '{name}' is invalid: {problem}; use 3-63 lower-case letters, digits and "
            f"hyphens (no hyphen at the start or end, never two in a row)."
        )
    return name


def check_message_size(queue: str, body: bytes) -> None:
    """Refuse a message Azure Storage would refuse: more than 64 KiB as stored (``body`` is the encoded text)."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLargeError(
            f"The request body is too large and exceeds the maximum permissible limit (RequestBodyTooLarge, "
            f"MaxLimit {MAX_MESSAGE_BYTES}): a message for queue '{queue}' is {len(body):,} bytes as stored, and "
            f"Azure Storage queues accept at most {MAX_MESSAGE_BYTES:,} (64 KiB; with the default base64 "
            f"messageEncoding that is {MAX_MESSAGE_BYTES // 4 * 3:,} bytes of body). Put large data in a blob and "
            f"send its name instead."
        )


def check_text(what: str, value: str) -> str:
    """``value`` when it can be stored as UTF-8 (a lone surrogate cannot, in any backend)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoreError(f"{what} {value!r} is not valid Unicode text ({exc.reason}).") from None
    return value


def validate_blob_name(name: str) -> str:
    if not name:
        raise StoreError("A blob name cannot be empty; use 1-1024 characters.")
    if len(name) > MAX_BLOB_NAME_LENGTH:
        raise StoreError(
            f"Blob name '{name[:40]}...' is invalid: it has {len(name)} characters; use at most "
            f"{MAX_BLOB_NAME_LENGTH}."
        )
    return check_text("Blob name", name)


@functools.lru_cache(maxsize=1024)
def validate_table_name(name: str) -> str:
    """``name`` when Azure accepts it as a table name. Table names ignore case, so callers key tables by lower()."""
    if not _TABLE_NAME.fullmatch(name) or name.lower() == "tables":
        raise StoreError(
            f"Table name '{name}' is invalid; use 3-63 letters and digits starting with a letter "
            f"('tables' is reserved)."
        )
    return name


def validate_entity_key(kind: str, value: object, table: str) -> str:
    """A PartitionKey or RowKey (``kind``) of an entity for ``table``."""
    if not isinstance(value, str):
        raise StoreError(
            f"Entity for table '{table}': {kind} must be a string, not {type(value).__name__}; "
            f"convert it with str() before writing."
        )
    if len(value) > MAX_KEY_LENGTH:
        raise StoreError(
            f"Entity for table '{table}': {kind} has {len(value)} characters; use at most {MAX_KEY_LENGTH}."
        )
    bad = _BAD_KEY_CHARS.search(value)
    if bad is not None:
        raise StoreError(
            f"Entity for table '{table}': {kind} {value!r} contains {bad.group()!r}; Azure Tables forbid '/', "
            f"'\\', '#', '?' and control characters in keys."
        )
    return check_text(f"Entity for table '{table}': {kind}", value)


def validate_entity_keys(table: str, partition_key: str, row_key: str) -> None:
    """The keys of a read or delete: refused as a write would refuse them (no entity can have such keys, and some
    drivers cannot even encode them, e.g. a lone surrogate)."""
    validate_entity_key("PartitionKey", partition_key, table)
    validate_entity_key("RowKey", row_key, table)


def validate_metadata(metadata: Mapping[str, str] | None, blob: str) -> dict[str, str]:
    """A copy of blob metadata; names must be C# identifiers (they travel as ``x-ms-meta-<name>`` headers)."""
    if not metadata:
        return {}
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key.isidentifier() or not key.isascii():
            raise StoreError(
                f"Metadata name {key!r} of blob '{blob}' is invalid; use letters, digits and underscores, "
                f"not starting with a digit."
            )
        if not isinstance(value, str):
            raise StoreError(
                f"Metadata '{key}' of blob '{blob}' must be a string, not {type(value).__name__}."
            )
        checked[key] = value
    return checked


def validate_lease(name: str, owner: str, duration: float) -> None:
    """The arguments of a lease acquire: a name and an owner (non-empty text) and a positive duration in seconds."""
    if not name or not owner:
        raise StoreError("A lease needs a non-empty name and owner.")
    check_text("Lease name", name)
    check_text(f"Owner of lease {name!r}:", owner)
    if not duration > 0:  # written so that NaN, which no comparison accepts, is refused too
        raise StoreError(f"Lease '{name}': the duration must be positive (got {duration} s).")


def check_message_times(delay: float, ttl: float | None) -> None:
    """The limits Azure puts on a new message: a delay of 0 or more, a positive ttl or -1, delay before expiry."""
    if delay < 0:
        raise StoreError(f"A message delay cannot be negative (got {delay} s).")
    if ttl is not None and ttl != -1:
        if ttl <= 0:
            raise StoreError(f"A message time-to-live must be positive, or -1 for never (got {ttl} s).")
        if delay >= ttl:
            raise StoreError(f"A message delay ({delay} s) must be shorter than its time-to-live ({ttl} s).")


def check_visibility(visibility_timeout: float) -> None:
    if visibility_timeout < 0:
        raise StoreError(f"A visibility timeout cannot be negative (got {visibility_timeout} s).")


def check_count(what: str, value: int, most: int | None = None) -> None:
    if value < 1 or (most is not None and value > most):
        limit = f"1-{most}" if most is not None else "at least 1"
        raise StoreError(f"{what} must be {limit} (got {value}).")
