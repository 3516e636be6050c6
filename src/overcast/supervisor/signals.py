"""The supervisor's signals: its handlers only record them, and ``signal.set_wakeup_fd`` writes to a pipe the
loop's ``select`` waits on, so the loop, not the handler, acts on each signal (forking from a handler is unsafe).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType

from overcast.supervisor.process import SUPERVISOR_SIGNALS, SignalHandler, child_handlers


class SignalInbox:
    def __init__(self) -> None:
        self._received: list[int] = []
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    @property
    def fds(self) -> list[int]:
        """The wake-up pipe's two ends (a forked child closes them)."""
        return [self.wake_r, self.wake_w]

    @contextlib.contextmanager
    def installed(self) -> Iterator[dict[signal.Signals, SignalHandler]]:
        """Record the supervisor's signals while inside; yields the handlers a forked child starts with. On the way
        out the wake-up fd and the previous handlers are put back, before the pipe may be closed (or reused)."""
        previous = {sig: signal.getsignal(sig) for sig in SUPERVISOR_SIGNALS}
        handlers = child_handlers(previous)
        old_wakeup = signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        try:
            for sig in SUPERVISOR_SIGNALS:
                signal.signal(sig, self._record)
            yield handlers
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                with contextlib.suppress(TypeError, ValueError):
                    signal.signal(sig, handler)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self._received.append(signum)

    def drain(self) -> None:
        """Empty the wake-up pipe (the signals themselves are in the inbox already)."""
        with contextlib.suppress(OSError):
            while os.read(self.wake_r, 4096):
                pass

    def take(self) -> list[int]:
        """The signals received since the last take, in order."""
        received = self._received[:]
        del self._received[: len(received)]
        return received

    def pending(self) -> set[int]:
        """The signals received and not yet taken."""
        return set(self._received)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.wake_r = self.wake_w = -1
