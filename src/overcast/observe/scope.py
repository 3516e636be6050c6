"""The current invocation, carried in a contextvar so asyncio tasks and started threads keep it."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

# The worker exposes one process-wide threading.local() as context.thread_local_storage; user threads may
# copy context.invocation_id into it so their logs are attributed. We honour it as a fallback.
thread_local_storage = threading.local()


class InvocationScope:
    """Which invocation the running code belongs to (a plain slotted class: one is made per invocation)."""

    __slots__ = ("function_name", "invocation_id")

    def __init__(self, invocation_id: str, function_name: str) -> None:
        self.invocation_id = invocation_id
        self.function_name = function_name


current: contextvars.ContextVar[InvocationScope | None] = contextvars.ContextVar(
    "overcast_invocation", default=None
)


def current_invocation_id() -> str | None:
    scope = current.get()
    if scope is not None:
        return scope.invocation_id
    return getattr(thread_local_storage, "invocation_id", None)


_installed = False


def propagate_into_threads() -> None:
    """Threads started during an invocation run in a copy of the starter's context (so logs keep the id).

    Pool threads (ThreadPoolExecutor workers) are skipped: they outlive the invocation that happened to
    start them and would mis-attribute later work.
    """
    global _installed
    if _installed:
        return
    _installed = True
    original: Any = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if current.get() is not None and not self.name.startswith("ThreadPoolExecutor"):
            self._overcast_context = contextvars.copy_context()  # type: ignore[attr-defined]
        original_start(self)

    def bootstrap_inner(self: threading.Thread) -> None:
        context = getattr(self, "_overcast_context", None)
        if context is None:
            original(self)
        else:
            context.run(original, self)

    threading.Thread.start = start  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = bootstrap_inner  # type: ignore[attr-defined]
