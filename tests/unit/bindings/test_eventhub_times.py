"""The fast parse of Overcast's enqueued times gives exactly what the library's own parse gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from azure.functions.meta import _BaseConverter

from overcast.bindings.eventhub import dotnet_utc
from overcast.bindings.eventhub_times import fast_utc, install


def samples() -> list[str]:
    rng = random.Random(7)
    start = datetime(1970, 1, 1, tzinfo=timezone.utc)
    times = [start + timedelta(seconds=rng.uniform(0, 4e9), microseconds=rng.randrange(1_000_000))
             for _ in range(300)]
    texts = [dotnet_utc(t) for t in times]
    texts += [dotnet_utc(t.replace(microsecond=0)) for t in times[:20]]
    texts += ["2020-07-14T01:27:55.6270000Z", "2020-07-14T01:27:55.1234567Z", "2020-07-14T01:27:55.5Z"]
    return texts


@pytest.mark.parametrize("text", samples())
def test_the_fast_parse_equals_the_librarys(text: str) -> None:
    expected = _BaseConverter._parse_datetime(text)
    found = fast_utc(text)
    assert found == expected and found is not None and found.tzinfo is expected.tzinfo


@pytest.mark.parametrize("text", ["2020-07-14T01:27:55+00:00", "2020-07-14 01:27:55Z", "2020-13-14T01:27:55Z",
                                  "07/14/2020 01:27:55Z", "2020-07-14T01:27:55"])
def test_other_forms_are_left_to_the_library(text: str) -> None:
    assert fast_utc(text) is None


def test_install_keeps_other_forms_working() -> None:
    from azure.functions.eventhub import EventHubTriggerConverter

    install()
    install()
    assert EventHubTriggerConverter._parse_datetime("2020-07-14T01:27:55.627Z") == datetime(
        2020, 7, 14, 1, 27, 55, 627000, tzinfo=timezone.utc)
    assert EventHubTriggerConverter._parse_datetime("2020-07-14T01:27:55") == datetime(2020, 7, 14, 1, 27, 55)
