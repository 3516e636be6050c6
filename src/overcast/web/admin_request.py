"""One admin request as its handlers see it, and the handler and route shapes shared by ``admin`` and
``admin_keys`` (here so that neither imports the other for them)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from overcast.web.app import Caller


@dataclass
class AdminRequest:
    method: str
    match: re.Match[str]
    body: bytes
    caller: Caller
    base_url: str


Handler = Callable[[AdminRequest], Awaitable[tuple[int, Any]]]  # answers (status, JSON-able body or None)
Route = tuple[str, re.Pattern[str], bool, Handler]  # (methods regex, path, admin only?, handler)
