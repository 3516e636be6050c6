"""Azure's secrets JSON documents (``secrets/host``, ``secrets/functions/<name>``): new ones, reading them, and
editing their key lists in place. Key names are case-insensitive, as in Azure; encrypted values (from a file copied
out of Azure) cannot be read here and are skipped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from overcast.errors import StoreError
from overcast.web.key_pins import MASTER_NAME, Pin

DEFAULT_NAME = "default"


def generate_key() -> str:
    return secrets.token_urlsafe(40)


def entry(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value, "encrypted": False}


def fresh_host_doc(with_default: bool) -> dict[str, Any]:
    return {
        "masterKey": entry(MASTER_NAME, generate_key()),
        "functionKeys": [entry(DEFAULT_NAME, generate_key())] if with_default else [],
        "systemKeys": [],
    }


def dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2)


def parse(raw: str, store_key: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise StoreError(
            f"The stored keys '{store_key}' are not a JSON object (was the state store edited by hand?). Restore "
            f"that entry, or remove it from the state store to have the keys generated again."
        )
    return doc


def readable(entry: Any) -> tuple[str, str] | None:
    """(name, value) of a usable key entry; encrypted values (from Azure) cannot be read here and are skipped."""
    if not isinstance(entry, dict) or entry.get("encrypted"):
        return None
    name, value = entry.get("name"), entry.get("value")
    return (name, value) if isinstance(name, str) and isinstance(value, str) and value else None


def values(doc: dict[str, Any], list_name: str) -> dict[str, str]:
    items = doc.get(list_name)
    pairs = (readable(e) for e in items) if isinstance(items, list) else ()
    return dict(p for p in pairs if p is not None)


def key_list(doc: dict[str, Any], list_name: str) -> list[Any]:
    items = doc.get(list_name)
    if not isinstance(items, list):
        items = doc[list_name] = []
    return items


def upsert(items: list[Any], name: str, value: str) -> bool:
    """Set key ``name`` (case-insensitive, as Azure); True when it was created."""
    for i, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
            items[i] = entry(name, value)
            return False
    items.append(entry(name, value))
    return True


def remove(items: list[Any], name: str) -> bool:
    keep = [e for e in items if not (isinstance(e, dict) and str(e.get("name", "")).lower() == name.lower())]
    removed = len(keep) != len(items)
    items[:] = keep
    return removed


def merge(stored: dict[str, str], pinned: dict[str, Pin]) -> dict[str, str]:
    merged = {n: v for n, v in stored.items() if n.lower() not in pinned}
    merged.update({p.name: p.value for p in pinned.values()})
    return merged


def find(keys: Mapping[str, str], name: str) -> str | None:
    return next((v for n, v in keys.items() if n.lower() == name.lower()), None)
