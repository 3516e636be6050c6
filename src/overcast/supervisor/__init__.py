"""The process supervisor of ``overcast start``: one shared listening socket, N forked instance processes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from overcast.supervisor.process import InstanceHandle, bind, say
from overcast.supervisor.supervisor import STARTUP_FAILED, InstanceMain, Supervisor

__all__ = ["STARTUP_FAILED", "InstanceHandle", "run"]


def run(
    *,
    address: str,
    port: int,
    workers: int,
    instance_main: InstanceMain,
    reload: bool = False,
    watch_root: Path | None = None,
    graceful_timeout: float = 30.0,
    on_bound: Callable[[socket.socket], None] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (0), a second SIGINT (130), a first-generation start-up failure (3), a bind
    failure (1), or every instance stopping on its own (0). Call it from the main thread."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    root: Path | None = None
    if reload:
        root = (watch_root or Path.cwd()).resolve()
        if not root.is_dir():
            say(f"Cannot watch {root} for changes: it is not a directory.")
            return 1
    sock = bind(address, port)
    if sock is None:
        return 1
    with sock:
        if on_bound is not None:
            on_bound(sock)
        return Supervisor(sock, workers, instance_main, root, graceful_timeout).serve()
