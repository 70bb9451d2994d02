"""Running the emulator: uvicorn in a background thread (tests, local stack) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
from typing import Any

from devstack.emulator.app import EmulatorApp
from devstack.emulator.engine import JobEngine
from devstack.emulator.options import EmulatorOptions
from devstack.http_server import UvicornServer, listening_socket

logger = logging.getLogger(__name__)


class EmulatorServer:
    """One emulator instance: `EmulatorServer.start(options)` returns once it accepts requests."""

    def __init__(self, options: EmulatorOptions, sock: socket.socket):
        self.options = options
        self.engine = JobEngine(options)
        self.app = EmulatorApp(options, self.engine)
        self._http = UvicornServer(self.app.build(), sock, name="emulator-http")
        self.host, self.port = self._http.host, self._http.port

    @classmethod
    def bind(cls, options: EmulatorOptions, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return cls(options, listening_socket(host, port, purpose="emulator"))

    @classmethod
    def start(
        cls, options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0
    ) -> EmulatorServer:
        """Serves in a background thread; port 0 picks a free port (see `.endpoint`)."""
        server = cls.bind(options or EmulatorOptions(), host, port)
        server.engine.start()
        try:
            server._http.start(timeout)
        except RuntimeError:
            server.engine.stop()
            raise
        logger.info("Document Translation emulator serving %s", server.endpoint)
        return server

    def serve_forever(self) -> None:
        """Serves in this thread until Ctrl-C or SIGTERM (uvicorn handles both)."""
        self.engine.start()
        try:
            self._http.serve_forever()
        finally:
            self.engine.stop()

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
        self._http.stop()
        self.engine.stop()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(endpoint={self.endpoint!r})"
