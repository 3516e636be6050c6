"""The refused-request console line: its wording and its rate limit (a fake clock, no sleeping)."""

from __future__ import annotations

import pytest

from overcast.web.refusals import Refusal, RefusalLog, describe


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (Refusal("function 'secure'", "function", None, "GET", "/api/secure"),
         "Refused GET /api/secure with 401: function 'secure' has authLevel 'function' and needs a function key "
         "(this function's, or a host key) or the master key; the request had no key."),
        (Refusal("function 'adminonly'", "admin", "function", "POST", "/api/needsadmin"),
         "needs the master key; the key sent is a function key, which is not enough."),
        (Refusal("function 'secure'", "function", "unknown", "GET", "/api/secure"),
         "the key sent is not one of the keys it accepts."),
        (Refusal("the durable HTTP API", "system", "unknown", "GET", "/runtime/webhooks/durabletask/instances",
                 needs="the system key 'durabletask_extension' or the master key"),
         "the durable HTTP API has authLevel 'system' and needs the system key 'durabletask_extension' or the "
         "master key"),
        (Refusal("the admin API", "admin", None, "GET", "/admin/\x1b[2Jx\n"),
         "Refused GET /admin/\\x1b[2Jx\\x0a with 401"),
    ],
)
def test_describe(refusal: Refusal, expected: str) -> None:
    line = describe(refusal)
    assert expected in line
    assert "`overcast keys list`" in line and "--no-auth" in line
    assert "\n" not in line


def test_a_long_path_is_cut() -> None:
    line = describe(Refusal("function 'f'", "function", None, "GET", "/" + "a" * 5000))
    assert len(line) < 600 and "a..." in line


@pytest.mark.parametrize(
    ("events", "lines"),
    [
        # (time, target) per refused request -> the lines written (None = suppressed)
        ([(0.0, "f"), (1.0, "f"), (2.0, "f"), (6.0, "f")], ["f", None, None, "f +2"]),
        ([(0.0, "f"), (0.5, "g"), (1.0, "f"), (1.5, "g")], ["f", "g", None, None]),
        ([(0.0, "f"), (5.0, "f"), (10.0, "f")], ["f", "f", "f"]),
        ([(0.0, "f"), (4.9, "f"), (5.1, "f")], ["f", None, "f +1"]),
    ],
)
def test_rate_limit_per_target(events: list[tuple[float, str]], lines: list[str | None]) -> None:
    now = [0.0]
    written: list[str] = []
    log = RefusalLog(window=5.0, clock=lambda: now[0], emit=written.append)
    seen: list[str | None] = []
    for when, target in events:
        now[0] = when
        count = len(written)
        log.refused(Refusal(f"function '{target}'", "function", None, "GET", f"/api/{target}"))
        if len(written) == count:
            seen.append(None)
            continue
        line = written[-1]
        suffix = ""
        if "more refused request" in line:
            suffix = " +" + line.split("(")[-1].split(" ")[0]
        seen.append(target + suffix)
    assert seen == lines


def test_the_suppressed_count_is_worded() -> None:
    now = [0.0]
    written: list[str] = []
    log = RefusalLog(window=5.0, clock=lambda: now[0], emit=written.append)
    refusal = Refusal("function 'f'", "function", None, "GET", "/api/f")
    for when in (0.0, 1.0, 6.0):
        now[0] = when
        log.refused(refusal)
    assert written[-1].endswith("(1 more refused request for function 'f' not shown since the last such line.)")
