"""prefix_upper_bound: the end of the key range of a prefix, in code point order (both databases' key order)."""

from __future__ import annotations

import pytest

from overcast.backends.sql.keyrange import prefix_upper_bound


@pytest.mark.parametrize(("prefix", "bound"), [
    ("", None),  # every key: no bound
    ("a", "b"),
    ("orders/", "orders0"),
    ("z\U0010ffff", "{"),  # the last code point cannot grow: the one before it does
    ("\U0010ffff", None),
    ("\ud7ff", "\ue000"),  # the surrogates cannot be stored, so the bound skips them
    ("é", "ê"),
])
def test_prefix_upper_bound(prefix: str, bound: str | None) -> None:
    assert prefix_upper_bound(prefix) == bound


@pytest.mark.parametrize("prefix", ["a", "orders/", "z\U0010ffff", "\ud7ff", "é"])
@pytest.mark.parametrize("key_tail", ["", "x", "\U0010ffff", "\x00"])
def test_every_key_with_the_prefix_is_below_the_bound(prefix: str, key_tail: str) -> None:
    bound = prefix_upper_bound(prefix)
    assert bound is not None
    assert prefix <= prefix + key_tail < bound
