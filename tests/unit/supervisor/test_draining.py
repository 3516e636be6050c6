"""What a stopping instance reports (InFlight, the draining notification) and the line the supervisor prints."""

from __future__ import annotations

import pytest

from overcast.invoke.inflight import InFlight
from overcast.supervisor.draining import draining_message, parse_draining, waiting_line


def test_in_flight_counts_by_function_busiest_first() -> None:
    running = InFlight()
    for name in ("b", "a", "b", "c"):
        running.enter(name)
    running.leave("c")
    assert running.snapshot() == {"b": 2, "a": 1}
    assert list(running.snapshot()) == ["b", "a"]
    running.leave("b")
    running.leave("b")
    running.leave("a")
    assert running.snapshot() == {}


@pytest.mark.parametrize(
    ("running", "message"),
    [
        ({"slow": 1}, "draining 1 slow=1"),
        ({"slow": 2, "other-fn_1": 1}, "draining 3 slow=2 other-fn_1=1"),
        ({"a" * 100: 1, "b" * 100: 2}, "draining 3 " + "a" * 100 + "=1"),  # the second name would not fit
    ],
)
def test_draining_message_round_trips(running: dict[str, int], message: str) -> None:
    assert draining_message(running) == message
    total, counts = parse_draining(message) or (0, {})
    assert total == sum(running.values())
    assert counts == {name: count for name, count in running.items() if f" {name}=" in message}


@pytest.mark.parametrize("message", ["ready", "recycle", "draining", "draining x", "draining-3"])
def test_other_messages_are_not_draining(message: str) -> None:
    assert parse_draining(message) is None


@pytest.mark.parametrize(
    ("total", "counts", "seconds", "interrupted", "line"),
    [
        (1, {"slow": 1}, 30.0, True,
         "Waiting up to 30s for 1 invocation in flight to finish (slow). Press Ctrl+C again to stop at once."),
        (3, {"slow": 2, "other": 1}, 29.2, False,
         "Waiting up to 30s for 3 invocations in flight to finish (slow (2), other). "
         "Send SIGINT (Ctrl+C) to stop at once."),
        (5, {"slow": 2}, 0.0, True,
         "Waiting up to 0s for 5 invocations in flight to finish (slow (2) and 3 more). "
         "Press Ctrl+C again to stop at once."),
        (4, {}, -1.0, True,
         "Waiting up to 0s for 4 invocations in flight to finish. Press Ctrl+C again to stop at once."),
    ],
)
def test_waiting_line(total: int, counts: dict[str, int], seconds: float, interrupted: bool, line: str) -> None:
    assert waiting_line(total, counts, seconds, interrupted=interrupted) == line
