"""Connection limits: the OVERCAST_HTTP_* settings, and fitting the connection cap into the open-file limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.config.settings import StartOptions, load
from overcast.errors import ConfigError
from overcast.web.connections import FD_RESERVE, RateLimitedLine, fit_cap


@pytest.fixture(autouse=True)
def an_app_folder(tmp_path: Path) -> None:
    """load() needs a host.json, as `func start` does."""
    (tmp_path / "host.json").write_text('{"version": "2.0"}')


@pytest.mark.parametrize(("env", "keepalive", "headers", "cap"), [
    ({}, 130.0, 30.0, None),
    ({"OVERCAST_HTTP_KEEPALIVE_TIMEOUT": "5", "OVERCAST_HTTP_HEADERS_TIMEOUT": "0.5"}, 5.0, 0.5, None),
    ({"OVERCAST_HTTP_KEEPALIVE_TIMEOUT": " ", "OVERCAST_HTTP_MAX_CONNECTIONS": "64"}, 130.0, 30.0, 64),
    ({"OVERCAST_HTTP_HEADERS_TIMEOUT": "86400"}, 130.0, 86400.0, None),
])
def test_connection_settings(tmp_path: Path, env: dict[str, str], keepalive: float, headers: float,
                             cap: int | None) -> None:
    settings = load(StartOptions(script_root=tmp_path), environ=env)
    knobs = settings.knobs
    assert (knobs.http_keepalive_timeout, knobs.http_headers_timeout, knobs.http_max_connections) == (
        keepalive, headers, cap)


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("OVERCAST_HTTP_KEEPALIVE_TIMEOUT", "soon", "must be a number of seconds"),
    ("OVERCAST_HTTP_KEEPALIVE_TIMEOUT", "0", "more than 0"),
    ("OVERCAST_HTTP_HEADERS_TIMEOUT", "-1", "more than 0"),
    ("OVERCAST_HTTP_HEADERS_TIMEOUT", "nan", "more than 0"),
    ("OVERCAST_HTTP_HEADERS_TIMEOUT", "inf", "at most 86400"),
    ("OVERCAST_HTTP_MAX_CONNECTIONS", "0", "at least 1"),
    ("OVERCAST_HTTP_MAX_CONNECTIONS", "lots", "whole number"),
])
def test_bad_connection_settings_name_the_setting(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(StartOptions(script_root=tmp_path), environ={name: value})
    assert name in str(err.value) and fragment in str(err.value)


R = FD_RESERVE


@pytest.mark.parametrize(("wanted", "soft", "hard", "planned"), [
    (None, None, None, (1000, None)),  # unlimited: nothing to do
    (None, 1000 + R, 4096, (1000, None)),  # fits already
    (None, 1024, 4096, (1000, 1000 + R)),  # the soft limit is raised to fit
    (None, 1024, None, (1000, 1000 + R)),
    (5000, 1024, None, (5000, 5000 + R)),
    (None, 1024, 1024, (1024 - R, None)),  # cannot be raised: the default cap shrinks to fit
    (None, 256, 512, (512 - 128, 512)),  # a small limit keeps a quarter for the host
    (None, 4, 4, (3, None)),
    (100, 1024, 1024, (100, None)),
])
def test_fit_cap(wanted: int | None, soft: int | None, hard: int | None, planned: tuple[int, int | None]) -> None:
    assert fit_cap(wanted, 1000, soft, hard) == planned


def test_a_cap_the_user_set_must_fit() -> None:
    with pytest.raises(ConfigError) as err:
        fit_cap(5000, 1000, 1024, 2048)
    assert "OVERCAST_HTTP_MAX_CONNECTIONS=5000 needs 5256 open files" in str(err.value)
    assert "at most 2048" in str(err.value) and "ulimit -n" in str(err.value)


def test_a_rate_limited_line_counts_what_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    line = RateLimitedLine(every=3600)
    for n in range(3):
        line.note("Refused %d", n)
    assert [r.getMessage() for r in caplog.records] == ["Refused 0."]
    line.every = 0
    line.note("Refused %d", 9)
    assert caplog.records[-1].getMessage() == "Refused 9 (2 more since the last such line)."
