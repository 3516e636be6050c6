"""The file watcher for ``--reload``: a dedicated child process that reports change batches over a pipe.

``watchfiles`` runs a Rust thread; a thread in the supervisor would make its later ``fork()`` calls unsafe, so the
watcher lives in its own process (forked before any instance). It writes an empty line once it is watching, then
one line per change batch: the path, relative to the watched root, of one file that changed. It exits when the
supervisor goes away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from overcast.supervisor.process import SignalHandler, fork_child, read_lines

IGNORED_DIRS = frozenset({
    ".venv", "venv", ".overcast", "__pycache__", ".git", "node_modules", ".python_packages", ".hypothesis",
    ".pytest_cache",
})
# The host restarts on host.json and function.json changes (its FileMonitoringService, matched by file name in any
# folder, case-insensitively) and on .py changes (the Python worker's file extension). local.settings.json is ours:
# Core Tools reads it once, but a reload is the natural moment to apply edited settings.
WATCHED_NAMES = frozenset({"host.json", "function.json", "local.settings.json"})
# A save in an editor, or a `git checkout`, touches several files in a burst: one reload for the whole burst.
DEBOUNCE_MS = 300
# Also how soon the watcher reports that it is watching: it says so on its first (empty) batch.
_TIMEOUT_MS = 100
_START_TIMEOUT = 10.0


def is_watched(root: Path, path: str) -> bool:
    """True if a change to ``path`` (absolute) should reload the app rooted at ``root``."""
    rel = relative(root, path)
    if rel is None:
        return False
    parts = Path(rel).parts
    if not parts or any(part in IGNORED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1].lower()
    return name.endswith(".py") or name in WATCHED_NAMES


def relative(root: Path, path: str) -> str | None:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return None


class Watcher:
    """The supervisor's side of the watcher process: its pid and the read end of its pipe."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.pid: int | None = None
        self.fd = -1
        self._buffer = b""

    def start(self, *, close_fds: Iterable[int], handlers: Mapping[signal.Signals, SignalHandler]) -> None:
        read_fd, write_fd = os.pipe()
        root, supervisor = self.root, os.getpid()
        try:
            self.pid = fork_child(
                lambda: _watch(root, write_fd, supervisor), close_fds=[*close_fds, read_fd], handlers=handlers
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.fd = read_fd
        # An edit made after an instance loaded the code but before the watches exist would be missed.
        _wait_until_watching(read_fd, _START_TIMEOUT)
        os.set_blocking(read_fd, False)

    def changes(self) -> tuple[list[str], bool]:
        """The changed paths reported since the last call, and whether the watcher closed its pipe."""
        lines, self._buffer, eof = read_lines(self.fd, self._buffer)
        return [line for line in lines if line], eof

    def close_pipe(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def reap(self, *, block: bool = False) -> int | None:
        """The wait status once the watcher has exited (it is forgotten then), else None."""
        if self.pid is None:
            return None
        try:
            done, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done, status = self.pid, 0
        if not done:
            return None
        self.pid = None
        return status

    def signal(self, sig: int) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def _wait_until_watching(fd: int, timeout: float) -> bool:
    """Block until the watcher has its watches in place (False if it died or is slower than ``timeout``)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if poller.poll(left * 1000):
            # Only the marker byte: change lines that follow it stay in the pipe for the supervisor's loop.
            return os.read(fd, 1) == b"\n"
    return False


class _SupervisorGone:
    """A watchfiles stop event: set once the supervisor has exited (we got re-parented)."""

    def __init__(self, supervisor: int) -> None:
        self._supervisor = supervisor

    def is_set(self) -> bool:
        return os.getppid() != self._supervisor


def _watch(root: Path, fd: int, supervisor: int) -> int:  # pragma: no cover - runs in the forked watcher
    # Ctrl+C reaches the whole process group; the supervisor decides when the watcher stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # watchfiles logs every batch at INFO; the supervisor prints its own line.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    import watchfiles

    watching = False
    for changes in watchfiles.watch(
        root,
        watch_filter=lambda _change, path: is_watched(root, path),
        debounce=DEBOUNCE_MS,
        rust_timeout=_TIMEOUT_MS,
        yield_on_timeout=True,
        stop_event=_SupervisorGone(supervisor),
        raise_interrupt=False,
    ):
        paths = sorted(filter(None, (relative(root, path) for _change, path in changes)))
        line = "\n" if not watching else ""
        watching = True
        if paths:
            line += paths[0].replace("\n", " ") + "\n"
        try:
            if line:
                os.write(fd, line.encode("utf-8", "replace"))
        except OSError:  # the supervisor closed its end: nobody to tell any more
            return 0
    with contextlib.suppress(OSError):
        os.close(fd)
    return 0
