"""Connection limits of one instance's HTTP server: keep-alive and request-header timeouts, and a connection cap.

uvicorn times out a kept-alive connection only after a response, and has neither a header timeout nor a cap that
spares admitted connections (its ``limit_concurrency`` answers 503 to every connection once the count is reached).
So a client that connects and sends nothing, or sends its headers a byte at a time (slowloris), held a socket for
good, and enough of them exhausted the process's file descriptors: every request then failed, with no log line.
The guard below wraps uvicorn's HTTP protocol, as Kestrel's limits do:

* a connection between requests is closed after ``keepalive_timeout`` without a byte (Kestrel's KeepAliveTimeout);
* a request's headers must be complete within ``headers_timeout`` of its first byte, or of the connection opening
  for the first request (else 408 and close, as Kestrel's RequestHeadersTimeout; a connection that never sent a
  byte is closed without one, as nginx does), and within :data:`MAX_HEAD_BYTES` (else 431 and close);
* beyond ``max_connections`` open connections, a new one gets a 503 at once and is closed; connections already
  admitted keep working. A rate-limited log line names the cap and its setting.

The cap must fit the process's open-file limit: :func:`plan_connection_cap` raises the soft ``RLIMIT_NOFILE``
toward the hard one when needed, lowers the default cap to fit, and refuses a cap the user set that cannot fit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overcast.errors import ConfigError

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base
else:
    _Base = object

log = logging.getLogger("overcast.host.http")
# Kestrel's MaxRequestHeadersTotalSize (32 KB) plus its MaxRequestLineSize (8 KB), with room to spare: the app
# answers 431 above 32 KB of headers; this bounds what a parser buffers before the headers are complete.
MAX_HEAD_BYTES = 64 * 1024
# File descriptors kept for everything but client connections: the stores, the supervisor's pipes, the app's own
# files and outgoing sockets.
FD_RESERVE = 256
LOG_EVERY_SECONDS = 10.0
CAP_SETTING = "OVERCAST_HTTP_MAX_CONNECTIONS"
HEADERS_SETTING = "OVERCAST_HTTP_HEADERS_TIMEOUT"
_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"retry-after: 1\r\ncontent-length: 48\r\n\r\nThe server has too many open connections; retry.")
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


@dataclass
class RateLimitedLine:
    """One warning per ``every`` seconds at most, counting what happened in between."""

    every: float = LOG_EVERY_SECONDS
    _last: float = field(default=-1e18, repr=False)
    _since: int = field(default=0, repr=False)

    def note(self, message: str, *args: object) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last < self.every:
            return
        if self._since > 1:
            message, args = message + " (%d more since the last such line)", (*args, self._since - 1)
        log.warning(message + ".", *args)
        self._last, self._since = now, 0


@dataclass
class ConnectionLimits:
    """The limits of one instance, and the state of its rate-limited log lines."""

    keepalive_timeout: float
    headers_timeout: float
    max_connections: int
    refused: RateLimitedLine = field(default_factory=RateLimitedLine)
    timed_out: RateLimitedLine = field(default_factory=RateLimitedLine)


class _Guard(_Base):
    """Mixed in before uvicorn's HttpToolsProtocol or H11Protocol (they share the members used here)."""

    limits: ConnectionLimits  # set on the class by guarded_protocol
    _refused = False
    _awaiting_head = True
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            # Refused before uvicorn sees it: it never joins the connection set, and an idle flood cannot make
            # admitted connections fail.
            self._refused = True
            limits.refused.note(
                "Refused a new HTTP connection: this instance already has %d open, the cap set by %s (%d). Raise it "
                "if the load is real, or find the clients that keep connections open", len(self.connections),
                CAP_SETTING, limits.max_connections)
            transport.write(_REFUSED)
            transport.close()
            return
        super().connection_made(transport)
        # uvicorn's own setting is whole seconds; ours may be a fraction (tests use short ones).
        self.timeout_keep_alive = limits.keepalive_timeout  # type: ignore[assignment]
        # The first request's headers are due within the headers timeout of the connection opening (nginx's and
        # Apache's rule); a connection that sends nothing at all is then closed without a word.
        self._head_timer = self.loop.call_later(limits.headers_timeout, self._headers_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.headers_timeout, self._headers_timed_out)
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # the headers are complete: a request cycle began
            self._head_done()
        elif self._awaiting_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._stop_head_timer()
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle and not self.transport.is_closing():  # no pipelined request started: wait for one
            self._awaiting_head, self._head_bytes = True, 0

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._head_done()  # the connection belongs to the WebSocket protocol from here on
        super().handle_websocket_upgrade(*args)

    def _head_done(self) -> None:
        self._stop_head_timer()
        self._awaiting_head, self._head_bytes = False, 0

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _headers_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._awaiting_head:
            return
        if not self._head_bytes:  # never sent a byte (a browser's preconnect, an idle socket): just close
            self.transport.close()
            return
        self.limits.timed_out.note(
            "Closed an HTTP connection whose request headers did not arrive within %s s (%s)",
            f"{self.limits.headers_timeout:g}", HEADERS_SETTING)
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def guarded_protocol(http: str, limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's ``httptools`` or ``h11`` protocol class with ``limits`` enforced (pass it as ``Config(http=)``)."""
    base: Any
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    return type(f"Guarded{base.__name__}", (_Guard, base), {"limits": limits})


def fit_cap(wanted: int | None, default: int, soft: int | None, hard: int | None) -> tuple[int, int | None]:
    """(the connection cap, the soft open-file limit to set first or None) for the limits ``soft``/``hard`` (None:
    unlimited). The cap is ``wanted`` (set by the user) or ``default``, plus :data:`FD_RESERVE` files for the rest.
    The default is lowered to what fits; a ``wanted`` cap that cannot fit raises ConfigError (reached, it would
    fail requests without saying why)."""
    cap = wanted or default
    need = cap + FD_RESERVE
    if soft is None or soft >= need:
        return cap, None
    raised = need if hard is None else min(need, hard)
    if raised >= need:
        return cap, raised
    if wanted is not None:
        raise ConfigError(
            f"{CAP_SETTING}={wanted} needs {need} open files ({FD_RESERVE} kept for the host), but this process may "
            f"open at most {raised} (ulimit -n). Lower {CAP_SETTING} or raise the limit."
        )
    usable = max(soft, raised)
    return max(1, usable - min(FD_RESERVE, usable // 4)), raised if raised > soft else None


def plan_connection_cap(wanted: int | None, default: int) -> int:
    """:func:`fit_cap` for this process, raising its soft ``RLIMIT_NOFILE`` as needed (and as the hard limit
    allows). Raises ConfigError for a cap the user set that cannot fit."""
    try:
        import resource
    except ImportError:  # not POSIX: nothing to check
        return wanted or default

    def finite(value: int) -> int | None:
        return None if value == resource.RLIM_INFINITY else value

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap, new_soft = fit_cap(wanted, default, finite(soft), finite(hard))
    if new_soft is None:
        return cap
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    except (ValueError, OSError):  # e.g. macOS refuses more than OPEN_MAX: plan with what we have
        cap, _ = fit_cap(wanted, default, finite(soft), finite(soft))
    return cap
