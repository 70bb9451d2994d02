"""Ports of the local stack's processes: finding a free one, and waiting until a process listens."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports free right now. All are held until all are chosen: asked one at a
    time, the system may hand the same just-released port out twice. (Another process may still
    take one before its server binds it; servers in this process bind first instead.)"""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    [port] = free_ports(1, host)
    return port


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def wait_until_listening(
    process: subprocess.Popen[bytes], host: str, ports: Iterable[int], *, name: str, log: Path, timeout: float
) -> None:
    """Returns once every port accepts connections; raises, naming the log, if the process exits
    first or the time runs out."""
    wanted = tuple(ports)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {name} exited with code {process.returncode}; see {log}")
        if all(port_open(host, port) for port in wanted):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the {name} did not listen on {', '.join(map(str, wanted))} within {timeout:.0f}s; see {log}")
