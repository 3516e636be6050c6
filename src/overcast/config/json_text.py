"""JSON that comes from outside (message and request bodies, payloads): ``json.loads`` with one more failure made
ordinary. Nested deeper than the interpreter's recursion limit, ``json.loads`` raises ``RecursionError``, which is
not a ``ValueError`` and escaped every handler written for bad JSON; here it is an :class:`InputError` (itself a
``ValueError``) that says what is wrong.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from overcast.errors import InputError


def too_deep(what: str) -> InputError:
    return InputError(
        f"{what} is JSON nested too deeply to read: Python reads at most about {sys.getrecursionlimit()} levels "
        "of nested arrays and objects."
    )


def loads(text: str | bytes, what: str = "The JSON", **options: Any) -> Any:
    """``json.loads(text, **options)``; JSON nested too deeply raises :class:`InputError` naming ``what``.

    Invalid JSON raises ``json.JSONDecodeError`` as before: both are ``ValueError``.
    """
    try:
        return json.loads(text, **options)
    except RecursionError:
        raise too_deep(what) from None
