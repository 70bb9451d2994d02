"""Start and stop Azurite (installed from npm by `npm ci`) for the local stack and tests."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_ports, port_open, wait_until_listening

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"

# Azurite's well-known development account. Public by design; never valid in Azure.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STANDARD_PORTS = (10000, 10001, 10002)


@dataclass(frozen=True)
class AzuriteEndpoints:
    host: str
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def blob_url(self) -> str:
        return f"http://{self.host}:{self.blob_port}/{ACCOUNT_NAME}"

    @property
    def queue_url(self) -> str:
        return f"http://{self.host}:{self.queue_port}/{ACCOUNT_NAME}"

    @property
    def table_url(self) -> str:
        return f"http://{self.host}:{self.table_port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};TableEndpoint={self.table_url};"
        )


class Azurite:
    """One Azurite process serving blobs, queues and tables.

    `Azurite.start(location)` uses the standard ports (the local stack); tests use
    `Azurite.start_on_free_ports()` so several runs can share a machine.
    """

    def __init__(self, process: subprocess.Popen[bytes], endpoints: AzuriteEndpoints, log_path: Path):
        self.process = process
        self.endpoints = endpoints
        self.log_path = log_path

    @property
    def connection_string(self) -> str:
        return self.endpoints.connection_string

    @classmethod
    def start(
        cls,
        location: Path,
        *,
        host: str = "127.0.0.1",
        ports: tuple[int, int, int] = STANDARD_PORTS,
        in_memory: bool = False,
        debug_log: Path | None = None,
        timeout: float = 60.0,
    ) -> Azurite:
        if not AZURITE_BIN.exists():
            raise RuntimeError(
                f"Azurite is not installed at {AZURITE_BIN}: run `npm ci` in {PROJECT_ROOT} (make test does it)."
            )
        if shutil.which("node") is None:
            raise RuntimeError("Node.js is needed to run Azurite; install Node 20+.")
        busy = [port for port in ports if port_open(host, port)]
        if busy:
            raise RuntimeError(f"ports {busy} on {host} are already in use: stop the other Azurite (or program) first.")
        location.mkdir(parents=True, exist_ok=True)
        log_path = location / "azurite.log"
        blob_port, queue_port, table_port = ports
        args = [
            str(AZURITE_BIN),
            "--blobHost",
            host,
            "--blobPort",
            str(blob_port),
            "--queueHost",
            host,
            "--queuePort",
            str(queue_port),
            "--tableHost",
            host,
            "--tablePort",
            str(table_port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        # Azurite refuses --location together with --inMemoryPersistence.
        args += ["--inMemoryPersistence"] if in_memory else ["--location", str(location)]
        args += ["--debug", str(debug_log)] if debug_log else []
        log_file = log_path.open("ab")
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, cwd=location)
        log_file.close()
        endpoints = AzuriteEndpoints(host, blob_port, queue_port, table_port)
        azurite = cls(process, endpoints, log_path)
        azurite._wait_until_listening(timeout)
        logger.info("Azurite listening on %s (blob %s, queue %s, table %s)", host, *ports)
        return azurite

    @classmethod
    def start_on_free_ports(
        cls, location: Path, *, in_memory: bool = True, debug_log: Path | None = None, timeout: float = 60.0
    ) -> Azurite:
        blob, queue, table = free_ports(3)
        return cls.start(
            location, ports=(blob, queue, table), in_memory=in_memory, debug_log=debug_log, timeout=timeout
        )

    def _wait_until_listening(self, timeout: float) -> None:
        ports = (self.endpoints.blob_port, self.endpoints.queue_port, self.endpoints.table_port)
        try:
            wait_until_listening(
                self.process, self.endpoints.host, ports, name="Azurite", log=self.log_path, timeout=timeout
            )
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
