"""``prefix_upper_bound``: the end of the key range that holds exactly the keys starting with a prefix."""

from __future__ import annotations


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (None: no bound).

    Both databases compare the keys in code point order (SQLite compares TEXT by its UTF-8 bytes; PostgreSQL's keys
    are ``COLLATE "C"``), so ``prefix <= key < bound`` selects exactly the keys with that literal prefix and still
    uses the primary key index (LIKE or GLOB would need escaping).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # surrogates cannot be stored in UTF-8; the next valid code point bounds the range
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None
