"""Who may use the durable client's keyless channel (``rpcBaseUrl``, see ``overcast.durable.api.client_binding``).

The channel shares the public port, so nothing about the connection can tell the SDK's own calls from anyone
else's: a port forwarder or proxy on the same machine makes every caller look local. What admits a call is the
secret path segment only the instance's functions are given (compared in constant time). Two more checks stop a
browser that was handed the URL (DNS rebinding, a page posting to it): a request with an ``Origin`` header, or
whose ``Host`` is not the address the channel is published on, is refused; so is one a proxy says it forwarded.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

# The SDK's aiohttp/requests client never sends these; browsers and proxies do.
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
_BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def channel_rest(path: str, prefix: str, secret: str) -> str | None:
    """What follows ``<prefix>/<secret>`` in ``path`` ("" or "/..."), or None when ``path`` is not a channel path
    with the right secret (then it is an ordinary webhook path, which needs a key)."""
    if not path.lower().startswith(prefix.lower() + "/"):
        return None
    segment, slash, tail = path[len(prefix) + 1:].partition("/")
    if not hmac.compare_digest(segment.encode("utf-8", "surrogateescape"), secret.encode("utf-8")):
        return None
    return slash + tail


def host_name(host_header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:7071`` → ``::1``, ``LocalHost:80`` → ``localhost``."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.rpartition(":")[0] if text.count(":") == 1 else text


def refusal(headers: Mapping[str, str], published_hosts: Iterable[str]) -> str | None:
    """Why a request carrying the right secret must still be refused, or None to serve it."""
    if any(name in headers for name in _BROWSER_HEADERS):
        return "it comes from a web browser"
    if any(name in headers for name in _FORWARDING_HEADERS):
        return "a proxy forwarded it"
    allowed = LOOPBACK_HOSTS | {host.lower().strip("[]") for host in published_hosts}
    if host_name(headers.get("host", "")) not in allowed:
        return f"its Host header {headers.get('host', '')!r} is not the channel's address"
    return None


def redact(path: str, secret: str | None) -> str:
    """``path`` fit for a log line: the channel secret replaced."""
    return path.replace(secret, "<secret>") if secret else path
