"""No module outside a backend's package names a backend technology: its driver, or the backend's own modules.

The registry (``overcast.backends.registry``) names each backend class by an import string; everything else reaches
a backend through the registry and the pool. A new backend's package is ``overcast/backends/<name>/`` (plus
``overcast/durable/store/backends/<name>...`` for its durable store).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "overcast"
# Technology -> the imports that name it (drivers and the backend's modules).
TECHNOLOGIES: dict[str, tuple[str, ...]] = {
    "sqlite": ("sqlite3", "overcast.backends.sqlite", "overcast.durable.store.backends.sqlite"),
    "memory": ("overcast.backends.memory", "overcast.durable.store.backends.memory"),
    "postgresql": ("psycopg", "psycopg2", "asyncpg", "overcast.backends.postgresql",
                   "overcast.durable.store.backends.postgresql"),
}


def _inside(module_parts: tuple[str, ...], technology: str) -> bool:
    """A module of the technology's own package (``.../sqlite/...``, ``memory.py``, ``memory_base.py``)."""
    return any(part == technology or part.startswith(f"{technology}_") for part in module_parts)


def _named(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_only_a_backends_package_imports_its_technology() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                for technology, prefixes in TECHNOLOGIES.items():
                    if _named(name, prefixes) and not _inside(parts, technology):
                        wrong.append(f"{'/'.join(parts)}.py:{node.lineno} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_scan_sees_the_backends() -> None:
    assert (SRC / "backends" / "sqlite" / "backend.py").is_file()
    assert _inside(("backends", "sqlite", "queues"), "sqlite") and not _inside(("host",), "sqlite")
