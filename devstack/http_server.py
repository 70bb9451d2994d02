"""Serving an ASGI app of the local stack with uvicorn, on a socket bound before the server exists.

Binding first means the port is known (port 0 picks a free one) and held from the start, so no
other process can take it between choosing and serving.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def listening_socket(host: str, port: int, *, purpose: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it; without it Nagle and delayed ACKs add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        problem = f"the {purpose} cannot listen on {host}:{port}: {exc.strerror} (is another one running?)"
        raise OSError(exc.errno, problem) from exc
    return sock


class UvicornServer:
    """One app on one pre-bound socket, served on a background thread or in the foreground."""

    def __init__(self, app: Any, sock: socket.socket, *, name: str):
        self.name = name
        self.host, self.port = sock.getsockname()[:2]
        self._socket = sock
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Returns once the server accepts requests."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} did not start on {self.host}:{self.port}")
            time.sleep(0.02)

    def serve_forever(self) -> None:
        """Serves in this thread until Ctrl-C or SIGTERM (uvicorn handles both)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._socket.close()
