"""The shape of the house, checked on the source with ``ast``: which part may import which, no import cycles,
every exception class in ``errors.py``, and tests/unit laid out as src/overcast.

Parts ("areas") are packages, each named in ``RULES``; a module at the root of ``overcast`` is an area of its own.
Every module on disk must fall in an area the table names (a new package gets its own line), and every line must
still match something on disk. An area may import itself and what its line lists: an area (every module in that
package, not its subpackages) or one module by its full name.

Imports counted: every ``import`` / ``from ... import`` in a module, at module level, inside functions (the lazy
imports that keep ``overcast --help`` light) and under ``if TYPE_CHECKING`` alike. A lazy or type-only import is
still a dependency, and a cycle through one is still a cycle. What is not counted: the implicit import of a
package's ``__init__`` when one of its submodules is imported (Python does that for every import; a package that
lazily opens its own submodules would otherwise always be "in a cycle").

Data flows config ← app ← invoke/bindings ← triggers/web/durable ← host ← cli (see ARCHITECTURE.md).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "overcast"

# Shorthands for the lines below.
_BASE = {"overcast.errors", "overcast.config"}
_PROTOCOLS = {"overcast.backends.base", "overcast.backends.names", "overcast.backends.datadir",
              "overcast.backends.servicebus_store", "overcast.backends.servicebus_filter",
              "overcast.backends.edm", "overcast.backends.queue_service_store",
              "overcast.backends.table_service_store",
              "overcast.backends.eventhubs_store", "overcast.backends.eventgrid_store",
              "overcast.backends.blob_store", "overcast.backends.blob_api_store", "overcast.backends.blob_api",
              "overcast.backends.blob_api_rules",
              "overcast.backends.documents_store", "overcast.backends.changes", "overcast.backends.store_checks"}
_QUERIES = {"overcast.backends.cosmos_sql"}  # the document stores run Cosmos DB SQL through it
_SQL = {"overcast.backends.sql"}  # the cores the SQLite and PostgreSQL stores share
_DURABLE = {"overcast.durable", "overcast.durable.core", "overcast.durable.api", "overcast.durable.store",
            "overcast.durable.store.backends"}
_BELOW_HOST = {"overcast", "overcast.app", "overcast.backends", "overcast.invoke", "overcast.kinds",
               "overcast.bindings", "overcast.observe", "overcast.triggers", "overcast.web", "overcast.supervisor",
               "overcast.banner", "overcast.binding_checks", "overcast.app_storage", "overcast.deploy",
               "overcast.storage_api", "overcast.storage_api.blob", "overcast.storage_api.queue",
               "overcast.storage_api.table", "overcast.eventgrid", *_BASE, *_DURABLE}

RULES: dict[str, set[str]] = {
    # The root package and its own modules.
    "overcast": set(),  # __version__ only
    "overcast.__main__": {"overcast.cli"},
    "overcast.errors": set(),
    "overcast.banner": {"overcast", "overcast.app", "overcast.web", *_BASE},
    "overcast.host": _BELOW_HOST,
    "overcast.binding_checks": {"overcast.app", "overcast.kinds", *_BASE},
    "overcast.app_storage": {"overcast.app", "overcast.kinds", *_BASE},
    # Deployment artefacts: read the app's index, name the stores' tables; nothing below runs in a host.
    "overcast.deploy": {"overcast", "overcast.app", "overcast.triggers.blob_receipts", "overcast.triggers.cosmos",
                        "overcast.backends.servicebus_store", "overcast.backends.eventhubs_store",
                        "overcast.backends.blob_events", "overcast.web.key_docs", *_BASE},
    "overcast.cli": {"overcast.host", *_BELOW_HOST},
    # Bottom layers.
    "overcast.config": {"overcast.errors"},
    "overcast.observe": _BASE,
    "overcast.app": _BASE,
    # Storage: the protocols (backends/base, names, datadir), the registry of backends by kind and the per-instance
    # pool (backends/registry, pool), and the embedded shortcuts (backends/__init__). The registry names each
    # backend by an import string, never by an import. A backend imports only the protocols, errors and its driver,
    # and opens its durable store (the durable store protocol and its own durable implementation); never the
    # registry nor another backend. Backends name the durable store protocol in their signatures.
    "overcast.backends": {"overcast.errors", "overcast.durable.store"},
    "overcast.backends.sqlite": {"overcast.errors", "overcast.durable.store", "overcast.durable.store.backends.sqlite",
                                 *_PROTOCOLS, *_QUERIES, *_SQL},
    "overcast.backends.memory": {"overcast.errors", "overcast.durable.store", "overcast.durable.store.backends.memory",
                                 *_PROTOCOLS, *_QUERIES},
    # The Cosmos DB SQL query subset: pure (no store, no I/O); the document stores call it.
    "overcast.backends.cosmos_sql": {"overcast.errors"},
    "overcast.backends.postgresql": {"overcast.errors", "overcast.durable.store",
                                     "overcast.durable.store.backends.postgresql", *_PROTOCOLS, *_QUERIES, *_SQL},
    # What the SQLite and PostgreSQL stores share where their logic is the same: on the protocols only.
    "overcast.backends.sql": {"overcast.errors", *_PROTOCOLS},
    # Running functions.
    "overcast.invoke": {"overcast.app", "overcast.observe", *_BASE},
    # The table of binding kinds: its entries are import strings, so it imports no kind's code.
    "overcast.kinds": {"overcast.app", "overcast.invoke", *_BASE},
    "overcast.bindings": {"overcast.app", "overcast.backends", "overcast.invoke", "overcast.kinds", *_QUERIES, *_BASE},
    "overcast.triggers": {"overcast.app", "overcast.backends", "overcast.invoke", "overcast.bindings",
                          "overcast.observe", "overcast.kinds", *_BASE},
    "overcast.web": {"overcast", "overcast.app", "overcast.backends", "overcast.invoke", "overcast.bindings",
                     "overcast.observe", "overcast.kinds", *_BASE},
    "overcast.supervisor": {"overcast.observe", *_BASE},
    # The Storage REST endpoints (storage_api: request, auth, errors, serving; one subpackage per service) on the
    # stores; they never import the web layer, the triggers or the host (the host hands them its hooks).
    "overcast.storage_api": {"overcast.backends", *_BASE},
    "overcast.storage_api.blob": {"overcast.storage_api", "overcast.backends", *_BASE},
    # Event Grid: a kind, the app-wide delivery listener (triggers' manager) and the webhooks (web).
    "overcast.eventgrid": {"overcast.app", "overcast.backends", "overcast.invoke", "overcast.bindings",
                           "overcast.kinds", "overcast.observe", "overcast.triggers", "overcast.web", *_BASE},
    "overcast.storage_api.queue": {"overcast.storage_api", "overcast.backends", *_BASE},
    # The Table service evaluates $filter with the table binding's OData compiler (bindings/odata) and answers the
    # service properties as the Queue service does.
    "overcast.storage_api.table": {"overcast.storage_api", "overcast.storage_api.queue", "overcast.backends",
                                   "overcast.bindings", *_BASE},
    # Durable Functions: a pure core under everything; the store protocol on the core; the HTTP API on the core and
    # the store; the engine (durable/*.py) on all of them. Durable backends follow the rule of backends, with the
    # shared SQLite helpers of backends/sqlite.
    "overcast.durable.core": _BASE,
    "overcast.durable.store": {"overcast.errors", "overcast.durable.core"},
    "overcast.durable.store.backends": {"overcast.errors", "overcast.durable.store", "overcast.durable.core",
                                        "overcast.durable.store.backends.sqlite", "overcast.backends",
                                        "overcast.backends.memory", *_PROTOCOLS},
    "overcast.durable.store.backends.sqlite": {"overcast.errors", "overcast.durable.store", "overcast.durable.core",
                                               "overcast.durable.store.backends.common", "overcast.backends.sqlite",
                                               *_PROTOCOLS},
    "overcast.durable.store.backends.postgresql": {"overcast.errors", "overcast.durable.store", "overcast.durable.core",
                                                   "overcast.durable.store.backends.common",
                                                   "overcast.backends.postgresql", *_PROTOCOLS},
    "overcast.durable.api": {"overcast.durable.core", "overcast.durable.store", "overcast.durable.commit", *_BASE},
    "overcast.durable": {"overcast.app", "overcast.invoke", "overcast.observe", "overcast.backends.pool",
                         "overcast.kinds", *_BASE, *_DURABLE},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _area(module: str) -> str:
    """The package a module belongs to (itself for a package); a module at the root is its own area."""
    if MODULES[module].name == "__init__.py" or module.count(".") == 1:
        return module
    return module.rpartition(".")[0]


def _target(name: str) -> str:
    """The module on disk an import names: the longest prefix that is one (``a.b.C`` → ``a.b``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports() -> Iterator[tuple[str, str, str]]:
    """(importing module, imported module, where) for every import of ``overcast`` in the source."""
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "overcast":
                # ``from pkg import sub`` imports the module ``pkg.sub`` when there is one.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.split(".")[0] == "overcast"]
            for name in names:
                if (target := _target(name)) != module:
                    yield module, target, f"{path.relative_to(SRC.parent)}:{node.lineno}"


IMPORTS = list(_imports())


def test_the_scan_sees_the_code() -> None:
    assert len(MODULES) > 130
    assert len(IMPORTS) > 400


def test_every_module_on_disk_has_a_rule() -> None:
    missing = sorted({_area(module) for module in MODULES} - set(RULES))
    assert not missing, f"add a line to RULES for each of: {missing}"


def test_every_rule_names_what_is_on_disk() -> None:
    areas = {_area(module) for module in MODULES}
    stale = sorted(area for area in RULES if area not in areas)
    unknown = sorted(name for allowed in RULES.values() for name in allowed if name not in MODULES)
    assert not stale and not unknown, f"RULES names what is not on disk: {stale + unknown}"


@pytest.mark.parametrize("area", sorted(RULES))
def test_imports_follow_the_rules(area: str) -> None:
    allowed = RULES[area] | {area}
    wrong = sorted({
        f"{where}: {source} imports {target}"
        for source, target, where in IMPORTS
        if _area(source) == area and _area(target) not in allowed and target not in allowed
    })
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_the_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(_cycles(graph)) == expected


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for source, target, _ in IMPORTS:
        graph[source].add(target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles (break each with a protocol or a module both sides import):\n" + "\n".join(
        " ⇄ ".join(cycle) for cycle in cycles)


_BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                       if isinstance(value, type) and issubclass(value, BaseException)}


def test_every_exception_class_is_in_errors() -> None:
    errors = ast.parse((SRC / "errors.py").read_text(encoding="utf-8"))
    ours = {node.name for node in errors.body if isinstance(node, ast.ClassDef)}
    elsewhere = [
        f"{path.relative_to(SRC.parent)}:{node.lineno}: class {node.name}"
        for module, path in MODULES.items() if module != "overcast.errors"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and any((base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else "")
                in _BUILTIN_EXCEPTIONS | ours for base in node.bases)
    ]
    assert not elsewhere, "move these to overcast/errors.py (the one exception tree):\n" + "\n".join(elsewhere)


def test_the_tree_drawn_in_errors_names_every_class() -> None:
    source = (SRC / "errors.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    drawing = ast.get_docstring(tree) or ""
    missing = [node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.name not in drawing]
    assert not missing, f"draw these in errors.py's docstring: {missing}"


def test_unit_tests_mirror_the_source() -> None:
    """Each folder of tests/unit is a package of src/overcast (tests/unit/web tests overcast/web, ...), and a
    package of tests (an ``__init__.py``), so that two test modules may share a basename."""
    unit = Path(__file__).resolve().parent
    folders = [path for path in sorted(unit.rglob("*")) if path.is_dir() and path.name != "__pycache__"]
    astray = [str(path.relative_to(unit)) for path in folders if not (SRC / path.relative_to(unit)).is_dir()]
    not_packages = [str(path.relative_to(unit)) for path in [unit, *folders] if not (path / "__init__.py").is_file()]
    assert not astray, f"tests/unit folders with no src/overcast package of that name: {astray}"
    assert not not_packages, f"add an __init__.py to: {not_packages}"


# What the durable core may import besides overcast: no file, socket, process, clock or randomness module.
_PURE_STDLIB = {"__future__", "collections", "contextlib", "dataclasses", "datetime", "enum", "functools",
                "itertools", "json", "math", "re", "typing", "uuid"}  # uuid: uuid5 only, a hash of its arguments


def test_the_durable_core_imports_no_io() -> None:
    wrong = [
        f"{path.relative_to(SRC.parent)}:{node.lineno}: {name}"
        for module, path in MODULES.items() if _area(module) == "overcast.durable.core"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if name.split(".")[0] not in _PURE_STDLIB | {"overcast"}
    ]
    assert not wrong, "the durable core stays pure (no I/O, clock or randomness):\n" + "\n".join(wrong)
