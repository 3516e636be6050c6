"""Fixtures shared by the store contracts: the clock, and the one list of backends every contract runs on.

Adding a backend is one line in :data:`BACKEND_CASES` (with ``server`` naming the environment variable that points
at its server, for a backend that needs one): every test of every contract then runs on it. A backend whose server
is not configured is skipped locally and fails under ``CI``, so a CI job never passes by skipping it silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from overcast.backends.base import Clock
from overcast.backends.registry import BACKENDS, BackendTarget, StorageBackend, open_backend
from tests.contract.store_helpers import FakeClock

# The walkthrough of docs/architecture.md, proved: the memory backend's registry line under a second name is all
# it takes for every contract to run on a "new" backend.
ALIAS = "memory-alias"


POSTGRES_SERVER = "OVERCAST_TEST_POSTGRES"
# CI's server (on the machine; nothing extra to start): the default under CI when the variable is unset.
CI_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class BackendCase:
    name: str  # the test id
    kind: str  # the key in overcast.backends.registry.BACKENDS
    server: str | None = None  # the environment variable with the server's connection (None: needs no server)


BACKEND_CASES = [
    BackendCase("memory", "memory"),
    BackendCase("sqlite", "embedded"),
    BackendCase(ALIAS, ALIAS),
    BackendCase("postgres", "postgresql", server=POSTGRES_SERVER),
]


def require_server(case: BackendCase, environ: dict[str, str] | None = None) -> str:
    """The connection of ``case``'s server; skips the test when none is configured, fails it under ``CI``."""
    env = dict(os.environ) if environ is None else environ
    if case.server is None:
        return ""
    value = env.get(case.server, "")
    if not value and case.server == POSTGRES_SERVER and env.get("CI"):
        value = CI_POSTGRES
    if value:
        return value
    message = f"the {case.name} backend needs a server: set {case.server} to its connection"
    if env.get("CI"):
        pytest.fail(f"{message} (CI runs every backend)")
    pytest.skip(message)


@dataclass
class Storage:
    """One backend under a contract: opens it through the registry, as an instance does."""

    case: BackendCase
    data_dir: Path
    connection: str
    clock: FakeClock

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def reopens(self) -> bool:
        """A store opened again (and in another process) sees the same data."""
        return self.backend().reopens

    def backend(self, clock: Clock | None = None) -> StorageBackend:
        return open_backend(self.case.kind, BackendTarget(self.data_dir, self.connection, clock or self.clock))

    def child_setup(self, opener: str, *lines: str) -> str | None:
        """Python statements that bind ``store`` (real clock) in another process; None for one-process backends."""
        if not self.reopens:
            return None
        return "\n".join([
            *lines,
            "from pathlib import Path",
            "from overcast.backends.registry import BackendTarget, open_backend",
            f"store = open_backend({self.case.kind!r}, BackendTarget(Path({str(self.data_dir)!r}), "
            f"{self.connection!r})).{opener}()",
            "",
        ])


@pytest.fixture(scope="session", autouse=True)
def alias_registered() -> Iterator[None]:
    """Registers the memory backend a second time, through the registry table only."""
    BACKENDS[ALIAS] = BACKENDS["memory"]
    yield
    del BACKENDS[ALIAS]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKEND_CASES, ids=[case.name for case in BACKEND_CASES])
def storage(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Storage]:
    case: BackendCase = request.param
    connection = require_server(case)
    if case.kind != "postgresql":
        yield Storage(case, tmp_path / "data", connection, clock)
        return
    from tests.contract.pg_schemas import private_schema

    # Each test in a schema of its own: tests (and helpers running the suites at once) never see each other's rows.
    with private_schema(connection) as url:
        yield Storage(case, tmp_path / "data", url, clock)
