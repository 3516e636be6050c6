"""Fixtures shared by the store contracts."""

from __future__ import annotations

import pytest
from store_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
