"""host.json extensions.serviceBus: the extension's defaults and clear errors."""

from __future__ import annotations

import pytest

from overcast.errors import ConfigError
from overcast.triggers.servicebus_options import ServiceBusOptions, servicebus_options


def test_defaults_follow_the_extension() -> None:
    options = servicebus_options({}, cores=2)
    assert options == ServiceBusOptions(max_concurrent_calls=32)


def test_settings_are_read_in_any_case() -> None:
    options = servicebus_options({"maxconcurrentcalls": 4, "maxautolockrenewalduration": "00:00:30",
                                  "sessionidletimeout": "00:00:02", "maxmessagebatchsize": 10,
                                  "minmessagebatchsize": 2, "autocompletemessages": False,
                                  "maxpollinginterval": "00:02:00"}, cores=1)
    assert (options.max_concurrent_calls, options.max_auto_lock_renewal, options.session_idle_timeout) == (4, 30, 2)
    assert (options.max_message_batch_size, options.min_message_batch_size, options.auto_complete) == (10, 2, False)
    assert options.max_polling_interval == 120


@pytest.mark.parametrize(("section", "problem"), [
    ({"maxconcurrentcalls": 0}, "maxConcurrentCalls must be at least 1"),
    ({"maxconcurrentcalls": "many"}, "must be an integer"),
    ({"minmessagebatchsize": 5, "maxmessagebatchsize": 2}, "must not exceed"),
    ({"autocompletemessages": "yes"}, "true or false"),
    ({"maxautolockrenewalduration": "soon"}, "maxAutoLockRenewalDuration"),
    ({"maxpollinginterval": "00:00:00"}, "maxPollingInterval must be longer than zero"),
])
def test_bad_values_are_one_line(section: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        servicebus_options(section)
