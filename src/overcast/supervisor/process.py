"""The OS-level pieces of the supervisor: the shared listening socket, forking a child, the instance handle.

The supervisor is single-threaded, so ``os.fork()`` is safe and cheap: the child does not re-exec Python, it
simply carries on in a copy of the supervisor and then calls the instance's entry point.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, NoReturn

# Signals the supervisor catches; they are blocked around fork() so that none lands in the child while it still
# has the supervisor's handlers, and reset in the child (see child_handlers).
SUPERVISOR_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)

_PR_SET_PDEATHSIG = 1
BACKLOG = 2048

SignalHandler = Callable[[int, FrameType | None], Any] | int


def say(message: str) -> None:
    """The supervisor's one-line messages go to stderr, like the instances' logs."""
    # One write() per line: the instances share this stderr, and print() writes the newline separately. A closed
    # stderr (terminal gone, `| head`) must not take the supervisor, and with it every instance, down.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def bind(address: str, port: int) -> socket.socket | None:
    """The shared listening socket, or None after printing one line saying why not."""
    if not 0 <= port <= 65535:
        say(f"Port {port} is not a valid port number (0-65535).")
        return None
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            address or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        say(f"Cannot listen on address {address!r}: {getattr(exc, 'strerror', None) or exc}.")
        return None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            say(f"Port {port} is unavailable. Close the process using that port, or specify another port using "
                "--port [-p].")
        else:
            say(f"Cannot listen on {address}:{port}: {exc.strerror or exc}.")
        return None
    sock.set_inheritable(True)
    # Every instance waits on the same queue: when several wake for one connection, the losers must get EAGAIN
    # from accept() instead of blocking their event loop.
    sock.setblocking(False)
    return sock


@dataclass
class InstanceHandle:
    """What an instance process receives from the supervisor."""

    sock: socket.socket
    slot: int
    generation: int
    announce: bool
    _notify_fd: int = field(default=-1, repr=False, compare=False)

    def notify(self, message: str) -> None:
        """Tell the supervisor ``ready`` (serving now) or ``recycle`` (replace me). Never raises, never blocks."""
        if self._notify_fd < 0:
            return
        line = message.replace("\n", " ").strip()[:200] + "\n"
        # A short write to a pipe is atomic, so threads of the instance may notify concurrently; the fd is
        # non-blocking so a supervisor that stops reading can never wedge the instance.
        with contextlib.suppress(OSError):
            os.write(self._notify_fd, line.encode("utf-8", "replace"))


class Role(enum.Enum):
    ACTIVE = "active"  # the instance serving its slot
    CANDIDATE = "candidate"  # a replacement that has not taken over its slot yet
    RETIRING = "retiring"  # asked to stop (SIGTERM), draining; its exit is expected


@dataclass(eq=False)
class Instance:
    """The supervisor's record of one instance process."""

    pid: int
    slot: int
    generation: int
    notify_fd: int
    role: Role
    first: bool = False  # forked for the first generation (not a restart): exit code 3 before ready is fatal
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    kill_at: float | None = None  # when a retiring instance gets SIGKILL
    draining: str | None = None  # a draining report that came before our own stop signal (Ctrl+C reaches both)
    buffer: bytes = b""


def describe_status(status: int) -> str:
    """``code 9`` or ``SIGSEGV`` for a wait status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"
    return f"code {os.waitstatus_to_exitcode(status)}"


def read_lines(fd: int, buffer: bytes) -> tuple[list[str], bytes, bool]:
    """Everything readable now from a non-blocking pipe: (complete lines, the partial rest, end of file)."""
    chunks = [buffer]
    eof = False
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        eof = True
    lines = b"".join(chunks).split(b"\n")
    rest = lines.pop()
    return [line.decode("utf-8", "replace").strip() for line in lines], rest, eof


def child_handlers(before: Mapping[signal.Signals, SignalHandler | None]) -> dict[signal.Signals, SignalHandler]:
    """The handlers a child starts with, from those in place before the supervisor installed its own: the
    defaults, except that a signal ignored by whoever started us (``nohup``, a background job) stays ignored."""
    handlers: dict[signal.Signals, SignalHandler] = {}
    for sig in SUPERVISOR_SIGNALS:
        if before.get(sig) == signal.SIG_IGN:
            handlers[sig] = signal.SIG_IGN
        else:
            handlers[sig] = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
    return handlers


def fork_child(
    target: Callable[[], int], *, close_fds: Iterable[int], handlers: Mapping[signal.Signals, SignalHandler]
) -> int:
    """Fork; the child resets ``handlers``, closes the supervisor's private fds, runs ``target`` and exits with its
    result. Returns the child's pid in the parent; never returns in the child.
    """
    # Buffered output would otherwise be written twice: once by the supervisor, once by the child.
    _flush()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISOR_SIGNALS)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return pid
    _child(target, handlers, old_mask, close_fds)  # pragma: no cover - runs in the child


def _child(
    target: Callable[[], int], handlers: Mapping[signal.Signals, SignalHandler], mask: Iterable[int],
    close_fds: Iterable[int],
) -> NoReturn:  # pragma: no cover - runs in the forked child
    code = 1
    try:
        parent = os.getppid()
        signal.set_wakeup_fd(-1)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for fd in close_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        _die_with_parent(parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        code = target()
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        _flush()
        os._exit(0 if code is None else code & 0xFF if isinstance(code, int) else 1)


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to SIGTERM this child if the supervisor dies (even by SIGKILL), so no instance is orphaned."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
