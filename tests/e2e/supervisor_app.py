"""A tiny instance for the supervisor tests: a threaded stdlib HTTP server on the shared socket.

    GET /pid         its pid
    GET /slow?s=N    sleeps N seconds first (writes ``slow-<pid>`` in the state dir when it starts)
    GET /recycle     asks the supervisor for a replacement
    GET /crash       dies with exit code 9 mid-request

On start it writes ``ready-<pid>`` (JSON: slot, generation, announce) in the state dir and notifies "ready"; on
SIGTERM it writes ``term-<pid>``, stops accepting and finishes the requests in flight. The supervisor prints the
bound port on stdout as ``port N``.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlsplit

from overcast.supervisor import InstanceHandle, run


class _Server(http.server.ThreadingHTTPServer):
    # Non-daemon request threads are joined by server_close(): that join is the drain.
    daemon_threads = False
    handle: InstanceHandle
    state_dir: Path


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/pid":
            self._reply(str(os.getpid()))
        elif url.path == "/slow":
            seconds = float(parse_qs(url.query).get("s", ["1"])[0])
            (self.server.state_dir / f"slow-{os.getpid()}").touch()
            time.sleep(seconds)
            self._reply(f"slow {os.getpid()}")
        elif url.path == "/recycle":
            self.server.handle.notify("recycle")
            self._reply(str(os.getpid()))
        elif url.path == "/crash":
            os._exit(9)
        else:
            self.send_error(404)

    def _reply(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")  # an idle keep-alive connection would hold up the drain
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(handle: InstanceHandle, state_dir: Path, fail_if: Path | None, crash_if: Path | None) -> int:
    if fail_if is not None and fail_if.exists():
        sys.stderr.write(f"Cannot load the app: {fail_if.name} exists.\n")  # one write: instances share stderr
        return 3
    if crash_if is not None and crash_if.exists():
        return 9
    server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = handle.sock
    server.handle = handle
    server.state_dir = state_dir

    def on_term(signum: int, frame: FrameType | None) -> None:
        (state_dir / f"term-{os.getpid()}").touch()
        # shutdown() waits for serve_forever() to return, so it cannot run on the thread serving.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_term)
    if handle.announce:
        print(f"banner pid={os.getpid()} generation={handle.generation}", flush=True)
    info = {"slot": handle.slot, "generation": handle.generation, "announce": handle.announce}
    (state_dir / f"ready-{os.getpid()}").write_text(json.dumps(info))
    handle.notify("ready")
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--watch-root", type=Path)
    parser.add_argument("--graceful-timeout", type=float, default=30.0)
    parser.add_argument("--fail-if", type=Path, help="exit 3 at start-up while this file exists")
    parser.add_argument("--crash-if", type=Path, help="exit 9 at start-up while this file exists")
    args = parser.parse_args(argv)
    return run(
        address="127.0.0.1",
        port=args.port,
        workers=args.workers,
        instance_main=lambda handle: serve(handle, args.state_dir, args.fail_if, args.crash_if),
        reload=args.reload,
        watch_root=args.watch_root,
        graceful_timeout=args.graceful_timeout,
        on_bound=lambda sock: print(f"port {sock.getsockname()[1]}", flush=True),
    )


if __name__ == "__main__":
    sys.exit(main())
