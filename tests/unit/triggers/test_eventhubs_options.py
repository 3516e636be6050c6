"""host.json extensions.eventHubs: the extension's defaults and one clear error per bad value."""

from __future__ import annotations

from typing import Any

import pytest

from overcast.errors import ConfigError
from overcast.triggers.eventhubs_options import EventHubOptions, eventhub_options


def test_defaults_are_the_extensions() -> None:
    assert eventhub_options({}) == EventHubOptions(
        max_event_batch_size=100, min_event_batch_size=1, max_wait_time=60.0, batch_checkpoint_frequency=1,
        ownership_expiration=30.0, load_balancing_interval=10.0, initial_offset="fromStart",
    )


def test_every_setting_is_read() -> None:
    options = eventhub_options({
        "maxeventbatchsize": "50", "mineventbatchsize": 10, "maxwaittime": "00:00:05", "batchcheckpointfrequency": 3,
        "partitionownershipexpirationinterval": "00:00:20", "loadbalancingupdateinterval": "00:00:02",
        "prefetchcount": 300, "initialoffsetoptions": {"type": "FromEnqueuedTime",
                                                       "enqueuedtimeutc": "2024-05-01T12:00:00Z"},
    })
    assert (options.max_event_batch_size, options.min_event_batch_size, options.max_wait_time) == (50, 10, 5.0)
    assert (options.batch_checkpoint_frequency, options.ownership_expiration, options.load_balancing_interval) == (
        3, 20.0, 2.0)
    assert options.initial_offset == "fromEnqueuedTime"
    assert options.initial_enqueued_time == 1714564800.0


@pytest.mark.parametrize(("section", "message"), [
    ({"maxeventbatchsize": "ten"}, "maxEventBatchSize must be an integer"),
    ({"maxeventbatchsize": 0}, "maxEventBatchSize must be at least 1"),
    ({"mineventbatchsize": 20, "maxeventbatchsize": 10}, "must not exceed maxEventBatchSize"),
    ({"batchcheckpointfrequency": 0}, "batchCheckpointFrequency must be at least 1"),
    ({"maxwaittime": "soon"}, "maxWaitTime"),
    ({"maxwaittime": "00:00:00"}, "maxWaitTime must be a positive TimeSpan"),
    ({"loadbalancingupdateinterval": "00:01:00"}, "shorter than partitionOwnershipExpirationInterval"),
    ({"initialoffsetoptions": {"type": "fromMiddle"}}, "fromStart, fromEnd or fromEnqueuedTime"),
    ({"initialoffsetoptions": {"type": "fromEnqueuedTime"}}, "enqueuedTimeUtc is required"),
    ({"initialoffsetoptions": {"type": "fromEnqueuedTime", "enqueuedtimeutc": "yesterday"}}, "ISO 8601"),
    ({"initialoffsetoptions": "fromEnd"}, "must be an object"),
])
def test_bad_values_name_the_setting(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        eventhub_options(section)
