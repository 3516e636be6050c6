"""Serving the Storage endpoints: inside each instance of ``overcast start`` (on sockets the CLI bound once, before
the supervisor forks, so ``--workers N`` share one set of endpoints) or alone (``overcast storage``).

In an instance the endpoints share its uvicorn server (one more socket per service) and its stores, and a blob
written through the API is told to its blob triggers at once, exactly like an output binding's write. Other
instances see it through the store (their next scan), as they see each other's outputs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from overcast.storage_api.asgi import Receive, Scope, Send, StorageApp
from overcast.storage_api.services import SERVICES, ServiceEnv, make_handler

if TYPE_CHECKING:
    from overcast.backends.base import BlobProperties
    from overcast.backends.pool import ConnectionStores


class StoreThreads:
    """The endpoints' own thread pool for blocking store calls (the instance's pools serve its functions).

    An upload holds its thread while the client sends the body (the store pulls it from the event loop piece by
    piece), so there are enough threads for several slow uploads beside the short calls; threads waiting on a
    socket cost no CPU.
    """

    def __init__(self, threads: int = 16) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="overcast-storage")

    async def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


def storage_apps(sockets: Mapping[str, socket.socket], stores: ConnectionStores, io: StoreThreads,
                 blob_written: Callable[[BlobProperties], None] | None = None,
                 wake_queue: Callable[[str], None] | None = None) -> dict[int, StorageApp]:
    """The app of each bound service, keyed by its socket's port."""
    env = ServiceEnv(stores, io, time.time, blob_written, wake_queue)
    return {sock.getsockname()[1]: StorageApp(SERVICES[name], make_handler(SERVICES[name], env))
            for name, sock in sockets.items()}


class PortRouter:
    """An ASGI app that hands each connection to the app of the port it arrived on (else to ``default``)."""

    def __init__(self, apps: Mapping[int, StorageApp], default: Any = None) -> None:
        self.apps = dict(apps)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1]) if server else None
        if app is not None:
            await app(scope, receive, send)
        elif self.default is not None:
            await self.default(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def serve_in_instance(host_app: Any, sockets: Mapping[str, socket.socket], stores: ConnectionStores,
                      triggers: Any) -> tuple[Any, list[socket.socket], Callable[[], None]]:
    """(the ASGI app for every socket, the extra sockets to serve, a close function) for one instance.

    ``stores``: the app's store (embedded, or the server backend the bindings use); ``triggers``: the instance's
    TriggerManager (or None), told of every blob written through the API.
    """
    if not sockets:
        return host_app, [], lambda: None
    io = StoreThreads()
    written = triggers.blob_written if triggers is not None else None
    # A message put through the Queue API wakes this instance's listeners of that queue, as an output binding's does.
    wake = triggers.context.wakeups.wake if triggers is not None else None
    apps = storage_apps(sockets, stores, io, written, wake)
    return PortRouter(apps, host_app), list(sockets.values()), io.shutdown
