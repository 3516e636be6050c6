"""The import direction of ARCHITECTURE.md, checked on the source: config ← app ← invoke/bindings ←
triggers/web/durable ← host ← cli. Function-level (lazy) imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "overcast"

# What each top-level part may import (besides itself). Backends see only errors; durable backends are the
# durable package's own and use the shared SQLite helpers of ``backends``.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "backends": {"errors"},
    "observe": {"errors", "config"},
    "app": {"errors", "config"},
    "invoke": {"errors", "config", "app", "observe"},
    "bindings": {"errors", "config", "app", "backends", "invoke"},
    "triggers": {"errors", "config", "app", "backends", "invoke", "bindings", "observe"},
    "web": {"errors", "config", "app", "backends", "invoke", "bindings", "observe", "overcast"},
    "durable": {"errors", "config", "app", "backends", "invoke", "observe"},
    "supervisor": {"errors", "config", "observe"},
    "banner": {"errors", "config", "app", "web", "overcast"},
    "host": {"errors", "config", "app", "backends", "invoke", "bindings", "observe", "triggers", "web", "durable",
             "supervisor", "banner", "overcast"},
}


# A storage backend opens its durable store with its other stores: the backend classes, the registry and the pool
# may name the durable store's contract and implementations (and nothing else of ``durable``).
BACKEND_OPENS_DURABLE = (
    {"overcast.backends.registry", "overcast.backends.pool"},
    ("overcast.durable.store",),
)


def _backend_opens_durable(source: str, target: str) -> bool:
    openers, stores = BACKEND_OPENS_DURABLE
    opener = source in openers or (source.startswith("overcast.backends.") and source.endswith(".backend"))
    return opener and target.startswith(stores)


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "overcast"


def _imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "overcast":
                found.append((module, node.module, f"{path.name}:{node.lineno}"))
            elif isinstance(node, ast.Import):
                found += [(module, a.name, f"{path.name}:{node.lineno}") for a in node.names
                          if a.name.split(".")[0] == "overcast"]
    return found


def test_the_scan_sees_the_code() -> None:
    assert len(_imports()) > 200


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_follow_the_data_flow(part: str) -> None:
    wrong = [
        f"{where}: {source} imports {target}"
        for source, target, where in _imports()
        if _part(source) == part and _part(target) not in ALLOWED[part] | {part}
        and not _backend_opens_durable(source, target)
    ]
    assert not wrong, "\n".join(wrong)
