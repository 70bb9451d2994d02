"""A proxy in front of Azurite that misbehaves as storage does under load, and counts what passes.

`python -m devstack storage-proxy --target blob=10000 --listen blob=20000 ... [--busy-rate 0.05]
[--lost-write-rate 0.1] [--fault-agent drop-folder-translation] [--seed 1]`

- busy: the request is answered 503 ServerBusy without reaching storage (the SDKs retry it);
- lost write: a write (PUT, POST, PATCH, MERGE, DELETE) reaches storage and is applied, then its
  answer is cut off mid-way (the connection drops), so the caller cannot tell whether it went through.

Faults touch only requests whose user agent starts with `--fault-agent` (the app's, by default: the
Translator's own storage calls are the service's business). Every answer's bytes are counted by
user agent, service and method: `GET /_proxy/stats` (the bench reads what the app reads from the
table through it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.http_server import UvicornServer, listening_socket

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "MERGE", "DELETE"})
# Headers that belong to one hop, not to the request or answer being passed on. (Host is passed on:
# Azurite tells a copy source on itself from an external one by the host the request was sent to.)
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
)
_BUSY_XML = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
    b"<Message>The server is busy (storage-proxy).</Message></Error>"
)
_BUSY_JSON = b'{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"The server is busy."}}}'


@dataclass(frozen=True)
class Faults:
    busy_rate: float = 0.0
    lost_write_rate: float = 0.0
    agent: str = "drop-folder-translation"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("busy_rate", "lost_write_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0.0..1.0")

    def arguments(self) -> list[str]:
        return [
            "--busy-rate",
            str(self.busy_rate),
            "--lost-write-rate",
            str(self.lost_write_rate),
            "--fault-agent",
            self.agent,
            "--seed",
            str(self.seed),
        ]


class _CutOff(Response):
    """The status line and part of the headers, then the connection drops."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": b"<", "more_body": True})
        raise ConnectionAbortedError("answer cut off on purpose (--lost-write-rate)")


class StorageProxy:
    def __init__(self, service: str, target: str, faults: Faults, counters: ProxyCounters):
        self.service = service
        self.target = target.rstrip("/")
        self.faults = faults
        self.counters = counters
        self._random = random.Random(f"{faults.seed}-{service}")
        self._lock = threading.Lock()
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=httpx.Limits(max_connections=256))

    def app(self) -> Starlette:
        async def stats(request: Request) -> Response:
            return JSONResponse(self.counters.snapshot())

        return Starlette(
            routes=[
                Route("/_proxy/stats", stats, methods=["GET"]),
                Route("/{path:path}", self.forward, methods=["GET", "HEAD", *sorted(WRITE_METHODS), "OPTIONS"]),
            ]
        )

    def _roll(self) -> float:
        with self._lock:
            return self._random.random()

    async def forward(self, request: Request) -> Response:
        agent = request.headers.get("user-agent", "")
        faulty = bool(self.faults.agent) and agent.startswith(self.faults.agent)
        if faulty and self._roll() < self.faults.busy_rate:
            self.counters.fault("busy")
            return self._busy()
        body = await request.body()
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_HEADERS and name.lower() != "accept-encoding"
        ]
        # Answers pass on byte for byte (a HEAD's Content-Length is the blob's size): none compressed.
        headers.append(("accept-encoding", "identity"))
        # The path and query exactly as sent: Shared Key signs the encoded path the client used.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        url = f"{self.target}{raw_path.decode('latin-1')}" + (f"?{query.decode('latin-1')}" if query else "")
        try:
            answer = await self._client.send(
                self._client.build_request(request.method, httpx.URL(url), content=body, headers=headers)
            )
        except httpx.HTTPError as exc:
            logger.warning("storage-proxy %s: %s %s failed: %s", self.service, request.method, request.url.path, exc)
            return Response(status_code=502)
        content = answer.content
        self.counters.add(agent, self.service, request.method, len(content))
        if faulty and request.method in WRITE_METHODS and self._roll() < self.faults.lost_write_rate:
            self.counters.fault("lost answer")
            return _CutOff()
        response_headers = {name: value for name, value in answer.headers.items() if name.lower() not in _HOP_HEADERS}
        return Response(content=content, status_code=answer.status_code, headers=response_headers)

    def _busy(self) -> Response:
        if self.service == "table":
            return Response(_BUSY_JSON, status_code=503, media_type="application/json")
        return Response(
            _BUSY_XML, status_code=503, media_type="application/xml", headers={"x-ms-error-code": "ServerBusy"}
        )


class ProxyCounters:
    """Bytes answered, by (user agent's first word, service, method), and faults injected."""

    def __init__(self) -> None:
        self._bytes: Counter[tuple[str, str, str]] = Counter()
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._faults: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, agent: str, service: str, method: str, size: int) -> None:
        who = agent.split(" ", 1)[0].split("/", 1)[0] or "-"
        with self._lock:
            self._bytes[who, service, method] += size
            self._requests[who, service, method] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "bytes": [[*key, count] for key, count in sorted(self._bytes.items())],
                "requests": [[*key, count] for key, count in sorted(self._requests.items())],
                "faults": dict(self._faults),
            }


def serve(targets: Mapping[str, str], listen: Mapping[str, int], faults: Faults) -> None:
    counters = ProxyCounters()
    servers = []
    for service, port in listen.items():
        proxy = StorageProxy(service, targets[service], faults, counters)
        server = UvicornServer(
            proxy.app(), listening_socket("127.0.0.1", port, purpose=f"{service} proxy"), name=f"proxy-{service}"
        )
        server.start()
        servers.append(server)
    logger.info("storage proxy on %s, faults %s", dict(listen), faults)
    try:
        asyncio.run(_forever())
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()


async def _forever() -> None:
    while True:
        await asyncio.sleep(3600)


def _pair(text: str) -> tuple[str, str]:
    service, _, value = text.partition("=")
    if service not in ("blob", "queue", "table") or not value:
        raise argparse.ArgumentTypeError(f"use blob=PORT, queue=PORT or table=PORT, got {text!r}")
    return service, value


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = argparse.ArgumentParser(
        prog="storage-proxy", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--target", type=_pair, action="append", required=True, help="service=PORT of Azurite")
    parser.add_argument("--listen", type=_pair, action="append", required=True, help="service=PORT to listen on")
    parser.add_argument("--busy-rate", type=float, default=0.0)
    parser.add_argument("--lost-write-rate", type=float, default=0.0)
    parser.add_argument("--fault-agent", default=Faults.agent)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    faults = Faults(args.busy_rate, args.lost_write_rate, args.fault_agent, args.seed)
    targets = {service: f"http://127.0.0.1:{port}" for service, port in args.target}
    listen = {service: int(port) for service, port in args.listen}

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    serve(targets, listen, faults)
    return 0
