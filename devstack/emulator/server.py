"""Running the emulator: uvicorn in a background thread (tests, local stack) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from devstack.emulator.app import EmulatorApp
from devstack.emulator.engine import JobEngine
from devstack.emulator.options import EmulatorOptions

logger = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it; without it Nagle and delayed ACKs add ~40 ms to every response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """One emulator instance: `EmulatorServer.start(options)` returns once it accepts requests."""

    def __init__(self, options: EmulatorOptions, host: str, sock: socket.socket):
        self.options = options
        self.host = host
        self.port = sock.getsockname()[1]
        self._socket = sock
        self.engine = JobEngine(options)
        self.app = EmulatorApp(options, self.engine)
        config = uvicorn.Config(self.app.build(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls, options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0
    ) -> EmulatorServer:
        """Serves in a background thread; port 0 picks a free port (see `.endpoint`)."""
        server = cls(options or EmulatorOptions(), host, _bind(host, port))
        server.engine.start()
        server._thread = threading.Thread(
            target=server._server.run, kwargs={"sockets": [server._socket]}, name="emulator-http", daemon=True
        )
        server._thread.start()
        deadline = time.monotonic() + timeout
        while not server._server.started:
            if not server._thread.is_alive() or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"the emulator did not start on {host}:{server.port}")
            time.sleep(0.02)
        logger.info("Document Translation emulator serving %s", server.endpoint)
        return server

    def serve_forever(self) -> None:
        """Serves in this thread until Ctrl-C or SIGTERM (uvicorn handles both)."""
        self.engine.start()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self.engine.stop()
            self._socket.close()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def key(self) -> str:
        return self.options.key

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def reset(self) -> None:
        self.app.reset()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.engine.stop()
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(endpoint={self.endpoint!r})"
