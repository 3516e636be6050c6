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
from collections.abc import Iterable
from pathlib import Path

from overcast.supervisor.process import fork_child

IGNORED_DIRS = frozenset({
    ".venv", "venv", ".overcast", "__pycache__", ".git", "node_modules", ".python_packages", ".hypothesis",
    ".pytest_cache",
})
WATCHED_NAMES = frozenset({"host.json", "local.settings.json"})
# A save in an editor, or a `git checkout`, touches several files in a burst: one reload for the whole burst.
DEBOUNCE_MS = 300
# Also how soon the watcher reports that it is watching: it says so on its first (empty) batch.
_TIMEOUT_MS = 100


def is_watched(root: Path, path: str) -> bool:
    """True if a change to ``path`` (absolute) should reload the app rooted at ``root``."""
    rel = relative(root, path)
    if rel is None:
        return False
    parts = Path(rel).parts
    if not parts or any(part in IGNORED_DIRS for part in parts[:-1]):
        return False
    return parts[-1].endswith(".py") or parts[-1] in WATCHED_NAMES


def relative(root: Path, path: str) -> str | None:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return None


def start_watcher(root: Path, *, close_fds: Iterable[int]) -> tuple[int, int]:
    """Fork the watcher; returns (pid, read end of its pipe). The caller owns the fd and reaps the pid."""
    root = root.resolve()
    read_fd, write_fd = os.pipe()
    supervisor = os.getpid()
    try:
        pid = fork_child(lambda: _watch(root, write_fd, supervisor), close_fds=[*close_fds, read_fd])
    finally:
        os.close(write_fd)
    return pid, read_fd


def wait_until_watching(fd: int, timeout: float) -> bool:
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
