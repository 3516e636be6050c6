"""A faster parse of the history timestamps Overcast writes, for the durable SDK's replay.

The SDK (``azure-functions-durable`` 1.x) builds a ``HistoryEvent`` for every event of the history on every
episode, and each one parses its ``Timestamp`` with ``dateutil.parser.parse`` (about 33 µs here): about 80 % of
the SDK's replay time. Overcast writes every history timestamp in one form, ``history.format_timestamp``'s
``2024-01-01T00:00:05.1234560Z``. :func:`install` replaces the parser the SDK's ``HistoryEvent`` module calls
(its module global ``dt_parse``) by :class:`FastTimestampParser`, which reads exactly that form in about 3 µs and
hands every other text, and every call with extra arguments, to the original function.

The result is what dateutil returns, tz object included (``tests/unit/durable/test_fast_timestamps.py``). dateutil
reads ``Z`` as ``UTC`` and then picks the tz by the process's local zone names (``time.tzname``, read at each
call): ``tz.UTC`` when neither is ``UTC``, ``tz.tzlocal()`` when both are (a machine set to UTC; one instance is
reused while the zone has no daylight saving). A zone with ``UTC`` as only one of its two names is left to
dateutil. Fraction digits past the sixth are cut, as dateutil does.

``OVERCAST_DURABLE_FAST_TIMESTAMPS=0`` (or ``false``/``no``/``off``; read once into ``Settings.knobs``) switches
it off: ``install(False)`` then puts the original back and the SDK parses every timestamp itself.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from dateutil import tz  # type: ignore[import-untyped]

log = logging.getLogger("overcast.host.durable")

SWITCH = "OVERCAST_DURABLE_FAST_TIMESTAMPS"
SDK_MODULE = "azure.durable_functions.models.history.HistoryEvent"
SDK_PARSER = "dt_parse"
# history.format_timestamp with a four-digit year; [0-9], not \d, which would also take other scripts' digits.
_OVERCAST_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z")
_OVERCAST_LENGTH = 28


_local_zone: tuple[tuple[int, int], tzinfo] | None = None


def _utc_zone() -> tzinfo | None:
    """The tz dateutil gives a ``Z`` time in this process now; None when only dateutil itself should decide."""
    global _local_zone
    names = time.tzname
    if "UTC" not in names:
        return tz.UTC  # type: ignore[no-any-return]
    if names != ("UTC", "UTC"):
        return None
    # dateutil takes a tz name that matches the local zone's as the local zone (named UTC at any date, so dateutil
    # keeps it), a new tzlocal() per call. Without daylight saving its offset never changes, so one shared
    # instance behaves the same in every comparison and subtraction, and saves a fifth of the replay time.
    if time.daylight:
        return tz.tzlocal()  # type: ignore[no-any-return]
    key = (time.timezone, time.altzone)
    cached = _local_zone
    if cached is None or cached[0] != key:  # a time.tzset() changed the zone
        cached = _local_zone = (key, tz.tzlocal())
    return cached[1]


class FastTimestampParser:
    """Parses Overcast's timestamp form directly and anything else with ``original`` (dateutil's ``parse``)."""

    def __init__(self, original: Callable[..., datetime]) -> None:
        self.original = original

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> datetime:
        if (args or kwargs or type(text) is not str or len(text) != _OVERCAST_LENGTH
                or _OVERCAST_FORM.fullmatch(text) is None):
            return self.original(text, *args, **kwargs)
        zone = _utc_zone()
        if zone is None:
            return self.original(text)
        try:
            return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                            int(text[17:19]), int(text[20:26]), zone)
        except ValueError:  # not a real date or time (month 13, hour 24...): dateutil says what it says
            return self.original(text)


def _sdk_module() -> Any:
    try:
        return importlib.import_module(SDK_MODULE)
    except ImportError:  # no durable SDK in this environment: nothing replays, nothing to speed up
        return None


def install(enabled: bool = True) -> bool:
    """Put the fast parser in place of the SDK's (idempotent); True when it is in place afterwards.

    With ``enabled`` False (the switch off), puts the SDK's original back instead and returns False. False too
    when the SDK is not installed or no longer parses timestamps through ``dt_parse`` (a different SDK version):
    nothing is changed.
    """
    module = _sdk_module()
    current = getattr(module, SDK_PARSER, None)
    if current is None:
        return False
    if not enabled:
        if isinstance(current, FastTimestampParser):
            setattr(module, SDK_PARSER, current.original)
        return False
    if not isinstance(current, FastTimestampParser):
        setattr(module, SDK_PARSER, FastTimestampParser(current))
        log.debug("Durable history timestamps are parsed by Overcast's fast path (%s=0 turns it off).", SWITCH)
    return True


def uninstall() -> None:
    """Give the SDK its own parser back (nothing when the fast one is not installed)."""
    module = _sdk_module()
    current = getattr(module, SDK_PARSER, None)
    if isinstance(current, FastTimestampParser):
        setattr(module, SDK_PARSER, current.original)
