"""The whole local stack as one object: Azurite, the emulator and the local functions host.

Each part runs as its own process (so a test can kill the host mid-run and start it again),
with its log in <workdir>/logs/.
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

from devstack.azurite import PROJECT_ROOT, STANDARD_PORTS, Azurite
from devstack.local_settings import merged_environment
from devstack.ports import free_ports, wait_until_listening
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

    @classmethod
    def on_free_ports(cls, workdir: Path, **kwargs: Any) -> StackConfig:
        blob, queue, table, emulator, host = free_ports(5)
        return cls(
            workdir=workdir,
            azurite_ports=(blob, queue, table),
            azurite_in_memory=True,
            emulator_port=emulator,
            host_port=host,
            **kwargs,
        )


class LocalStack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.azurite: Azurite | None = None
        self.emulator: subprocess.Popen[bytes] | None = None
        self.host: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.logs = config.workdir / "logs"

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
            self.env = merged_environment(
                {
                    STORAGE_CONNECTION: azurite.connection_string,
                    "TRANSLATOR_ENDPOINT": self.emulator_endpoint,
                    "TRANSLATOR_KEY": self.config.emulator_key,
                    **self.config.settings_overrides,
                },
                {name: value for name, value in os.environ.items() if name in _SETTING_NAMES},
            )
            settings = self.settings  # refuse impossible settings before starting anything else
            StorageClients(settings).ensure_resources()
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

    def start_host(self) -> None:
        args = [
            "host",
            "--project-dir",
            str(PROJECT_ROOT),
            "--port",
            str(self.config.host_port),
            *self.config.host_args,
        ]
        self.host = self._spawn("host", args)
        self._wait_for_port("host", self.host, self.config.host_port)

    def stop_host(self, *, kill: bool = False) -> None:
        self._stop(self.host, kill=kill)
        self.host = None

    def restart_emulator(self, *, kill: bool = True) -> None:
        """Stops the emulator (SIGKILL by default) and starts it again on its saved jobs."""
        self._stop(self.emulator, kill=kill)
        self.emulator = None
        self.start_emulator()

    def stop(self) -> None:
        """Host first (it uses the others), then the emulator, then storage."""
        self._stop(self.host)
        self._stop(self.emulator)
        self.host = self.emulator = None
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
