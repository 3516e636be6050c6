"""The supervisor behind ``overcast start``: binds the HTTP socket once and keeps N instance processes alive.

It stays single-threaded so that forking an instance is safe: signal handlers only record the signal, and one
``selectors`` loop waits on the signal wake-up pipe, the instances' notify pipes and the reload watcher's pipe.
Replacements (SIGHUP, reload, recycle) start the new instances first and retire the old ones only once the new
ones are ready, so no request is refused; retiring is SIGTERM, then SIGKILL after ``graceful_timeout``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from overcast.supervisor.draining import parse_draining, waiting_line
from overcast.supervisor.process import (
    Instance,
    InstanceHandle,
    Role,
    SignalHandler,
    describe_status,
    fork_child,
    read_lines,
    say,
)
from overcast.supervisor.reload import Watcher
from overcast.supervisor.signals import SignalInbox

STARTUP_FAILED = 3  # an instance's exit code: the app cannot load, and restarting it will not help
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0
# An instance that dies before it is ready, or within this many seconds of starting, counts as a start-up crash.
_QUICK_CRASH = 2.0
_IDLE_WAKE = 5.0  # the loop needs no polling; this only bounds the damage of a wake-up we never got

InstanceMain = Callable[[InstanceHandle], int]


class Supervisor:
    """One ``serve`` of the loop described above, on a socket already bound."""

    def __init__(
        self, sock: socket.socket, workers: int, instance_main: InstanceMain, watch_root: Path | None,
        graceful_timeout: float,
    ) -> None:
        self.sock = sock
        self.workers = workers
        self.instance_main = instance_main
        self.graceful_timeout = max(0.0, graceful_timeout)
        self.selector = selectors.DefaultSelector()
        self.instances: dict[int, Instance] = {}  # pid -> every instance not yet reaped
        self.active: dict[int, Instance] = {}  # slot -> the instance serving it
        self.batch: list[Instance] | None = None  # a new generation waiting until all of it is ready
        self.recycling: dict[int, Instance] = {}  # slot -> the replacement for a single instance
        self.restart_at: dict[int, tuple[float, int]] = {}  # slot -> (when, generation) to restart a crashed one
        self.crashes: dict[int, int] = {}  # slot -> consecutive start-up crashes, for the back-off
        self.generation = 0
        self.stopping = False
        self.interrupted = False  # the stop came from SIGINT (Ctrl+C), so a second one forces it
        self.exit_code = 0
        self.idle_code = 0  # the exit code if every instance is gone for good
        self.waiting = False  # reload mode with nothing serving: waiting for a file change
        self.watcher = Watcher(watch_root) if watch_root is not None else None
        self.inbox = SignalInbox()
        self.child_handlers: dict[signal.Signals, SignalHandler] = {}

    def serve(self) -> int:
        self.selector.register(self.inbox.wake_r, selectors.EVENT_READ, self.inbox.drain)
        try:
            # Leaving ``installed`` restores the handlers first: no signal may reach the pipe once it is closed.
            with self.inbox.installed() as self.child_handlers:
                if self.watcher is not None:
                    self.watcher.start(close_fds=self._private_fds(), handlers=self.child_handlers)
                    self.selector.register(self.watcher.fd, selectors.EVENT_READ, self._on_watcher)
                for slot in range(self.workers):
                    self._spawn(slot, Role.ACTIVE, self.generation, announce=slot == 0, first=True)
                while not (self.stopping and not self.instances):
                    for key, _ in self.selector.select(self._timeout()):
                        key.data()
                    self._handle_signals()
                    self._reap()
                    self._tick()
                    self._check_idle()
                return self.exit_code
        finally:
            self._cleanup()

    def _timeout(self) -> float:
        deadlines = [when for when, _ in self.restart_at.values()]
        deadlines += [inst.kill_at for inst in self.instances.values() if inst.kill_at is not None]
        if not deadlines:
            return _IDLE_WAKE
        return max(0.0, min(min(deadlines) - time.monotonic(), _IDLE_WAKE))

    def _handle_signals(self) -> None:
        hangup = False
        for sig in self.inbox.take():
            if sig in (signal.SIGINT, signal.SIGTERM):
                if not self.stopping:
                    self.interrupted = sig == signal.SIGINT
                    self._stop(0)
                elif sig == signal.SIGINT:
                    self._force_stop(130)
            elif sig == signal.SIGHUP:
                hangup = True
        if hangup and not self.stopping:
            say("Received SIGHUP; replacing the instances.")
            self._replace_all()

    def _tick(self) -> None:
        now = time.monotonic()
        for slot, (when, generation) in list(self.restart_at.items()):
            # A stop signal may have arrived since the crash: the stop must win over the restart.
            if when <= now and not {signal.SIGINT, signal.SIGTERM} & self.inbox.pending():
                del self.restart_at[slot]
                if slot not in self.active:
                    self._spawn(slot, Role.ACTIVE, generation)
        for inst in self.instances.values():
            if inst.kill_at is not None and inst.kill_at <= now:
                inst.kill_at = None
                _signal(inst.pid, signal.SIGKILL)

    def _check_idle(self) -> None:
        if self.stopping or self.active or self.batch or self.recycling or self.restart_at:
            return
        if self._reloading():
            if not self.waiting:
                self.waiting = True
                say("Waiting for a file change to reload...")
        else:
            self._stop(self.idle_code)

    def _spawn(
        self, slot: int, role: Role, generation: int, *, announce: bool = False, first: bool = False
    ) -> Instance:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        handle = InstanceHandle(self.sock, slot, generation, announce, _notify_fd=write_fd)
        main = self.instance_main
        try:
            pid = fork_child(
                lambda: main(handle), close_fds=[*self._private_fds(), read_fd], handlers=self.child_handlers
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        inst = Instance(pid, slot, generation, read_fd, role, first=first)
        self.instances[pid] = inst
        self.selector.register(read_fd, selectors.EVENT_READ, lambda: self._on_notify(inst))
        if role is Role.ACTIVE:
            self.active[slot] = inst
        return inst

    def _private_fds(self) -> list[int]:
        fds = [*self.inbox.fds, self.selector.fileno(), self.watcher.fd if self.watcher else -1]
        fds += [inst.notify_fd for inst in self.instances.values()]
        return [fd for fd in fds if fd >= 0]

    def _on_notify(self, inst: Instance) -> None:
        lines, inst.buffer, eof = read_lines(inst.notify_fd, inst.buffer)
        if eof:
            self._close_notify(inst)
        for line in lines:
            self._on_message(inst, line)

    def _close_notify(self, inst: Instance) -> None:
        if inst.notify_fd >= 0:
            self.selector.unregister(inst.notify_fd)
            os.close(inst.notify_fd)
            inst.notify_fd = -1

    def _on_message(self, inst: Instance, message: str) -> None:
        if message.startswith("draining "):
            self._on_draining(inst, message)
            return
        if inst.pid not in self.instances or self.stopping:
            return
        if message == "ready" and not inst.ready:
            inst.ready = True
            if self.batch is not None and inst in self.batch and all(new.ready for new in self.batch):
                promoted, self.batch = self.batch, None
                self._promote(promoted)
            elif self.recycling.get(inst.slot) is inst:
                del self.recycling[inst.slot]
                self._promote([inst])
        elif message == "recycle" and self._may_recycle(inst):
            say(f"Instance {inst.slot} (pid {inst.pid}) asked to be recycled; starting a replacement.")
            self.generation += 1
            self.recycling[inst.slot] = self._spawn(inst.slot, Role.CANDIDATE, self.generation)

    def _on_draining(self, inst: Instance, message: str) -> None:
        """A stopping instance still runs invocations: say what the stop waits for, and how to cut it short."""
        parsed = parse_draining(message)
        if not self.stopping and inst.role is not Role.RETIRING:
            inst.draining = message  # Ctrl+C reached the instance first; our own SIGINT is on its way
            return
        if parsed is None or not self.stopping or inst.pid not in self.instances or self.exit_code == 130:
            return  # replacements (reload, SIGHUP) drain quietly: the new instances already serve
        total, counts = parsed
        left = (inst.kill_at - time.monotonic()) if inst.kill_at is not None else self.graceful_timeout
        line = waiting_line(total, counts, left, interrupted=self.interrupted)
        say(f"Instance {inst.slot} (pid {inst.pid}): {line[0].lower()}{line[1:]}" if self.workers > 1 else line)

    def _may_recycle(self, inst: Instance) -> bool:
        # Not while a new generation is on its way (it replaces this one too), nor twice for one slot.
        return self.active.get(inst.slot) is inst and self.batch is None and inst.slot not in self.recycling

    def _promote(self, new: list[Instance]) -> None:
        for inst in new:
            old = self.active.get(inst.slot)
            if old is not None:
                self._retire(old)
            inst.role = Role.ACTIVE
            self.active[inst.slot] = inst
            self.restart_at.pop(inst.slot, None)
            self.crashes.pop(inst.slot, None)

    def _replace_all(self) -> None:
        """SIGHUP and reload: start a whole new generation; it takes over once every one of it is ready."""
        for superseded in [*(self.batch or []), *self.recycling.values()]:
            self._retire(superseded)
        self.batch = None
        self.recycling.clear()
        self.waiting = False
        self.generation += 1
        self.batch = [
            self._spawn(slot, Role.CANDIDATE, self.generation, announce=slot == 0) for slot in range(self.workers)
        ]

    def _retire(self, inst: Instance) -> None:
        """SIGTERM: stop accepting, finish in-flight requests; SIGKILL once the graceful timeout is over."""
        if self.active.get(inst.slot) is inst:
            del self.active[inst.slot]
        if self.recycling.get(inst.slot) is inst:
            del self.recycling[inst.slot]
        if self.batch is not None and inst in self.batch:
            self.batch.remove(inst)
            self.batch = self.batch or None
        kill_at = time.monotonic() + self.graceful_timeout
        if inst.role is not Role.RETIRING:
            inst.role = Role.RETIRING
            _signal(inst.pid, signal.SIGTERM)
        if inst.kill_at is None or kill_at < inst.kill_at:
            inst.kill_at = kill_at

    def _reap(self) -> None:
        # Ctrl+C reaches the instances too: a SIGINT recorded by now means their exits are part of the stop.
        self._handle_signals()
        for pid, inst in list(self.instances.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped behind our back (e.g. SIGCHLD set to SIG_IGN by a library)
                done, status = pid, 0
            if done:
                del self.instances[pid]
                self._close_notify(inst)
                self._on_exit(inst, status)
        watcher_status = self.watcher.reap() if self.watcher is not None else None
        if watcher_status is not None and not self.stopping:
            say(f"The file watcher exited with {describe_status(watcher_status)}; reload is off.")

    def _on_exit(self, inst: Instance, status: int) -> None:
        if self.stopping or inst.role is Role.RETIRING:
            return
        code = os.waitstatus_to_exitcode(status)
        how = describe_status(status)
        if inst.role is Role.CANDIDATE:
            self._candidate_failed(inst, code, how)
            return
        self.active.pop(inst.slot, None)
        if code == STARTUP_FAILED:
            if inst.first and not inst.ready:
                self._first_generation_failed()
            else:
                # Restarting cannot help until the code changes, and a code change comes with a reload or SIGHUP.
                self.idle_code = STARTUP_FAILED
                say(f"Instance {inst.slot} (pid {inst.pid}) cannot start (exit code 3); its slot stays empty "
                    "until the next reload.")
        elif code == 0:
            say(f"Instance {inst.slot} (pid {inst.pid}) stopped.")
        else:
            self._schedule_restart(inst, how)

    def _schedule_restart(self, inst: Instance, how: str) -> None:
        delay = 0.0
        if not inst.ready or time.monotonic() - inst.started < _QUICK_CRASH:
            count = self.crashes[inst.slot] = self.crashes.get(inst.slot, 0) + 1
            delay = min(_FIRST_BACKOFF * 2 ** (count - 1), _MAX_BACKOFF)
        else:
            self.crashes.pop(inst.slot, None)
        self.restart_at[inst.slot] = (time.monotonic() + delay, inst.generation)
        say(f"Instance {inst.slot} (pid {inst.pid}) exited with {how}; restarting.")

    def _first_generation_failed(self) -> None:
        """The app cannot load: stop (exit 3), or in reload mode wait for the fix."""
        if not self._reloading():
            self._stop(STARTUP_FAILED)
            return
        for inst in list(self.instances.values()):
            self._retire(inst)
        self.restart_at.clear()

    def _candidate_failed(self, inst: Instance, code: int, how: str) -> None:
        if self.batch is not None and inst in self.batch:
            failed, self.batch = self.batch, None
            for other in failed:
                if other is not inst:
                    self._retire(other)
            if self.active and code == STARTUP_FAILED:
                say("The new instances cannot load the app (exit code 3); the previous instances keep serving.")
            elif self.active:
                say(f"A new instance exited with {how} before it was ready; the previous instances keep serving.")
            else:
                self.idle_code = STARTUP_FAILED if code == STARTUP_FAILED else 1
        elif self.recycling.get(inst.slot) is inst:
            del self.recycling[inst.slot]
            old = self.active.get(inst.slot)
            keeps = f"pid {old.pid} keeps serving" if old is not None else "the slot is empty"
            say(f"The replacement for instance {inst.slot} exited with {how} before it was ready; {keeps}.")

    def _stop(self, code: int) -> None:
        self.stopping = True
        self.exit_code = code
        self.restart_at.clear()
        self.batch = None
        self.recycling.clear()
        for inst in list(self.instances.values()):
            self._retire(inst)
            if inst.draining is not None:
                self._on_draining(inst, inst.draining)
        if self.watcher is not None:
            self.watcher.signal(signal.SIGTERM)

    def _force_stop(self, code: int) -> None:
        if self.instances and self.exit_code != code:
            say("Stopping at once.")
        self.exit_code = code
        for inst in self.instances.values():
            inst.kill_at = None
            _signal(inst.pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        """Leave no child behind, even if the loop itself failed."""
        for pid in self.instances:
            _signal(pid, signal.SIGKILL)
        if self.watcher is not None:
            self.watcher.signal(signal.SIGKILL)
            self.watcher.reap(block=True)
            self.watcher.close_pipe()
        for pid in self.instances:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for inst in self.instances.values():
            self._close_notify(inst)
        self.instances.clear()
        self.inbox.close()
        self.selector.close()

    def _reloading(self) -> bool:
        return self.watcher is not None and self.watcher.pid is not None

    def _on_watcher(self) -> None:
        assert self.watcher is not None
        lines, eof = self.watcher.changes()
        if eof:
            self.selector.unregister(self.watcher.fd)
            self.watcher.close_pipe()
        if lines and not self.stopping:
            say(f"Detected change in {lines[-1]}; reloading.")
            self._replace_all()


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)

