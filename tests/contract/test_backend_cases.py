"""The contracts' backend list: a backend whose server is absent is skipped locally and fails under CI."""

from __future__ import annotations

import pytest

from overcast.backends.registry import BACKENDS
from tests.contract.conftest import ALIAS, BACKEND_CASES, BackendCase, require_server

SERVER = BackendCase("server-backend", "server-backend", server="OVERCAST_TEST_SERVER_URL")


def test_a_backend_without_a_server_needs_no_configuration() -> None:
    assert require_server(BackendCase("memory", "memory"), {}) == ""


def test_an_absent_server_skips_locally() -> None:
    with pytest.raises(pytest.skip.Exception, match="set OVERCAST_TEST_SERVER_URL"):
        require_server(SERVER, {})


def test_an_absent_server_fails_under_ci() -> None:
    with pytest.raises(pytest.fail.Exception, match="CI runs every backend"):
        require_server(SERVER, {"CI": "true"})


def test_a_configured_server_gives_its_connection() -> None:
    assert require_server(SERVER, {"OVERCAST_TEST_SERVER_URL": "db://x", "CI": "1"}) == "db://x"


def test_the_alias_is_registered_through_the_table_alone() -> None:
    assert BACKENDS[ALIAS] == BACKENDS["memory"]
    assert ALIAS in [case.kind for case in BACKEND_CASES]
