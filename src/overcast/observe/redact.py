"""Masking secrets in text that leaves the process: log lines, error messages, status JSON.

One place knows what a secret looks like: the key parts of connection strings (``AccountKey=``,
``SharedAccessKey=``, ``Password=`` ...), SAS signatures (``sig=``), passwords in URLs
(``postgresql://user:pass@host``), function keys in query strings (``code=``) and every exact value
registered with :func:`register` (the host's own keys). The console handler applies it to every line; the
composition root applies it to function errors before they reach logs or the admin API.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
# Connection-string parts that hold a credential (Azure Storage, Service Bus, Event Hubs, Cosmos DB, SQL, Redis).
_SECRET_PARTS = (
    "AccountKey", "SharedAccessKey", "SharedAccessSignature", "Password", "Pwd", "AccessKey", "ClientSecret",
    "ApplicationKey", "AuthKey", "Secret",
)
_PATTERN = re.compile(
    r"(?P<part>\b(?:" + "|".join(_SECRET_PARTS) + r")\s*=\s*)(?P<v1>[^;\s\"'&]+(?:&[^;\s\"']*)?)"
    r"|(?P<sig>[?&;]sig=)(?P<v2>[^&\s\"';]+)"
    r"|(?P<code>[?&]code=)(?P<v3>[^&\s\"';#]+)"
    r"|(?P<url>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s\"']*:)(?P<v4>[^@/?#\s\"']+)(?P<at>@)",
    re.IGNORECASE,
)
# Cheap substring checks first: most lines (Executing/Executed) hold none, and the regex costs ~20x more.
_MARKERS = ("key", "pass", "pwd", "secret", "signature", "sig=", "code=", "://")
_known: frozenset[str] = frozenset()
_known_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def _replace(match: re.Match[str]) -> str:
    if match["part"] is not None:
        return match["part"] + MASK
    if match["sig"] is not None:
        return match["sig"] + MASK
    if match["code"] is not None:
        return match["code"] + MASK
    return match["url"] + MASK + match["at"]


def register(*secrets: str | None) -> None:
    """Exact values to mask wherever they appear (the host's master, function and system keys)."""
    global _known, _known_pattern
    with _lock:
        values = _known | {s for s in secrets if s and len(s) >= 8}
        if values == _known:
            return
        _known = frozenset(values)
        _known_pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


def mask(text: str) -> str:
    """``text`` with every recognisable secret replaced by ``***``."""
    lowered = text.lower()
    for marker in _MARKERS:
        if marker in lowered:
            text = _PATTERN.sub(_replace, text)
            break
    for value in _known:
        if value in text:
            assert _known_pattern is not None
            return _known_pattern.sub(MASK, text)
    return text
