"""The whole local stack as one object: Azurite, the emulator and the local functions host.

Each part runs as its own process (so a test can kill the host mid-run and start it again),
with its log in <workdir>/logs/. The host may run as several instances on one storage account
(`host_instances`): each serves the queue triggers and its own webhook, one at a time runs the
timers and stands in for Event Grid (singleton locks, as Azure does it). A proxy between the app and
Azurite (`storage_faults`) can lose answers and answer ServerBusy, and counts what passes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.azurite import PROJECT_ROOT, STANDARD_PORTS, Azurite, AzuriteEndpoints
from devstack.ports import free_ports, wait_until_listening
from devstack.storage_proxy import Faults
from shared.local_settings import merged_environment
from shared.settings import STORAGE_CONNECTION, Settings
from shared.storage.clients import StorageClients

logger = logging.getLogger(__name__)

DEFAULT_EMULATOR_PORT = 5080
DEFAULT_HOST_PORT = 7071
DEFAULT_EMULATOR_KEY = "local-emulator-key"
# Every part stops within this after SIGTERM, or is killed.
STOP_TIMEOUT_SECONDS = 5


@dataclass
class StackConfig:
    workdir: Path
    azurite_ports: tuple[int, int, int] = STANDARD_PORTS
    azurite_in_memory: bool = False
    # Azurite's --debug log: every request, with its operation and user agent (slow; `make bench`
    # counts storage requests per file from it in a run of its own).
    azurite_debug_log: Path | None = None
    emulator_port: int = DEFAULT_EMULATOR_PORT
    host_port: int = DEFAULT_HOST_PORT
    emulator_key: str = DEFAULT_EMULATOR_KEY
    settings_overrides: dict[str, str] = field(default_factory=dict)
    emulator_args: list[str] = field(default_factory=list)
    host_args: list[str] = field(default_factory=list)
    # False: storage and the emulator only (a benchmark drives the app's code in its own process).
    with_host: bool = True
    # Instances of the app (host processes) on the one storage account; their webhooks' ports.
    host_instances: int = 1
    more_host_ports: tuple[int, ...] = ()
    # A proxy between the app and Azurite that loses answers (None: the app reaches Azurite directly).
    storage_faults: Faults | None = None
    proxy_ports: tuple[int, int, int] | None = None

    @property
    def host_ports(self) -> tuple[int, ...]:
        return (self.host_port, *self.more_host_ports)[: self.host_instances]

    @classmethod
    def on_free_ports(
        cls, workdir: Path, *, host_instances: int = 1, storage_faults: Faults | None = None, **kwargs: Any
    ) -> StackConfig:
        ports = free_ports(5 + (host_instances - 1) + 3)
        blob, queue, table, emulator, host = ports[:5]
        more, proxy = ports[5 : 5 + host_instances - 1], ports[-3:]
        return cls(
            workdir=workdir,
            azurite_ports=(blob, queue, table),
            azurite_in_memory=True,
            emulator_port=emulator,
            host_port=host,
            host_instances=host_instances,
            more_host_ports=tuple(more),
            storage_faults=storage_faults,
            proxy_ports=(proxy[0], proxy[1], proxy[2]),
            **kwargs,
        )


class LocalStack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.azurite: Azurite | None = None
        self.emulator: subprocess.Popen[bytes] | None = None
        self.hosts: list[subprocess.Popen[bytes] | None] = [None] * config.host_instances
        self.proxy: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.logs = config.workdir / "logs"

    @property
    def host(self) -> subprocess.Popen[bytes] | None:
        """The first instance (the only one, usually)."""
        return self.hosts[0]

    @property
    def proxy_endpoint(self) -> str | None:
        """Where the proxy's counters are read (`/_proxy/stats`), when it runs."""
        ports = self.config.proxy_ports
        return f"http://127.0.0.1:{ports[0]}" if self.proxy is not None and ports else None

    @property
    def emulator_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.emulator_port}"

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def start(self) -> LocalStack:
        """Starts every part; whatever was started is stopped again if a later part fails."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            azurite = self.start_storage()
            app_storage = azurite.connection_string
            if self.config.storage_faults is not None:
                app_storage = self.start_proxy(azurite)
            self.env = merged_environment(
                {
                    STORAGE_CONNECTION: app_storage,
                    # The Functions host's own storage (its singleton locks), reached directly.
                    "AzureWebJobsStorage": azurite.connection_string,
                    "TRANSLATOR_ENDPOINT": self.emulator_endpoint,
                    "TRANSLATOR_KEY": self.config.emulator_key,
                    **self.config.settings_overrides,
                },
                {name: value for name, value in os.environ.items() if name in _SETTING_NAMES},
            )
            Settings.from_env(self.env)  # refuses impossible settings before anything else starts
            # Created directly on Azurite: no fault of the proxy's belongs to the stack's own set-up.
            direct = Settings.from_env({**self.env, STORAGE_CONNECTION: azurite.connection_string})
            StorageClients(direct).ensure_resources()
            self.start_emulator()
            if self.config.with_host:
                self.start_host()
        except BaseException:
            self.stop()
            raise
        return self

    def start_storage(self) -> Azurite:
        """Azurite, on the stack's ports and data (again, after `stop_storage`)."""
        self.azurite = Azurite.start(
            self.config.workdir / "azurite",
            ports=self.config.azurite_ports,
            in_memory=self.config.azurite_in_memory,
            debug_log=self.config.azurite_debug_log,
        )
        return self.azurite

    def start_proxy(self, azurite: Azurite) -> str:
        """The proxy in front of Azurite; the connection string that reaches storage through it."""
        assert self.config.storage_faults is not None and self.config.proxy_ports is not None
        targets = zip(("blob", "queue", "table"), self.config.azurite_ports, strict=True)
        listens = zip(("blob", "queue", "table"), self.config.proxy_ports, strict=True)
        args = ["storage-proxy", *self.config.storage_faults.arguments()]
        for service, port in targets:
            args += ["--target", f"{service}={port}"]
        for service, port in listens:
            args += ["--listen", f"{service}={port}"]
        self.proxy = self._spawn("proxy", args)
        wait_until_listening(
            self.proxy, "127.0.0.1", self.config.proxy_ports, name="proxy", log=self.logs / "proxy.log", timeout=30
        )
        blob, queue, table = self.config.proxy_ports
        return AzuriteEndpoints("127.0.0.1", blob, queue, table).connection_string

    def stop_storage(self) -> None:
        """Azurite stops (an outage); its data stays on disk unless it runs in memory."""
        if self.azurite is not None:
            self.azurite.stop()
            self.azurite = None

    def start_emulator(self) -> None:
        args = [
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.config.emulator_port),
            "--key",
            self.config.emulator_key,
            # Jobs survive a restart of the emulator, as the service never forgets one.
            "--state-dir",
            str(self.config.workdir / "emulator-state"),
            *self.config.emulator_args,
        ]
        self.emulator = self._spawn("emulator", args)
        self._wait_for_port("emulator", self.emulator, self.config.emulator_port)

    def start_host(self, index: int | None = None) -> None:
        """Every instance (or the one at `index`) that is not running."""
        ports = self.config.host_ports
        for number in range(len(ports)) if index is None else [index]:
            if self.hosts[number] is not None and self.hosts[number].poll() is None:  # type: ignore[union-attr]
                continue
            args = ["host", "--project-dir", str(PROJECT_ROOT), "--port", str(ports[number])]
            if len(ports) > 1:
                args += ["--instance-id", str(number)]
                for port in ports:
                    args += ["--peer-port", str(port)]
            name = "host" if number == 0 else f"host{number}"
            process = self._spawn(name, [*args, *self.config.host_args])
            self.hosts[number] = process
            self._wait_for_port(name, process, ports[number])

    def stop_host(self, index: int | None = None, *, kill: bool = False) -> None:
        """Every instance (or the one at `index`); `kill` is kill -9."""
        for number in range(len(self.hosts)) if index is None else [index]:
            self._stop(self.hosts[number], kill=kill)
            self.hosts[number] = None

    def restart_emulator(self, *, kill: bool = True) -> None:
        """Stops the emulator (SIGKILL by default) and starts it again on its saved jobs."""
        self._stop(self.emulator, kill=kill)
        self.emulator = None
        self.start_emulator()

    def stop(self) -> None:
        """Hosts first (they use the others), then the emulator, then storage."""
        self.stop_host()
        self._stop(self.emulator)
        self._stop(self.proxy)
        self.emulator = self.proxy = None
        self.stop_storage()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return process

    def _wait_for_port(self, name: str, process: subprocess.Popen[bytes], port: int, timeout: float = 60.0) -> None:
        wait_until_listening(process, "127.0.0.1", (port,), name=name, log=self.logs / f"{name}.log", timeout=timeout)

    @staticmethod
    def _stop(process: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _setting_names() -> frozenset[str]:
    from shared.settings import SETTINGS_SPEC

    return frozenset({spec.name for spec in SETTINGS_SPEC} | {STORAGE_CONNECTION})


_SETTING_NAMES = _setting_names()
