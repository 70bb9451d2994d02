"""`python -m devstack azurite | up | drop`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError

from devstack.azurite import PROJECT_ROOT, Azurite
from devstack.dropping import drop_files
from devstack.emulator.cli import add_speed_arguments, speed_arguments
from devstack.ports import port_open
from devstack.stack import DEFAULT_HOST_PORT, LocalStack, StackConfig
from shared.local_settings import merged_environment
from shared.redaction import redact
from shared.runtime import TIMED_CONSOLE_FORMAT, configure_logging
from shared.settings import Settings, SettingsError

WORKDIR = PROJECT_ROOT / ".devstack"


def _wait_for_ctrl_c() -> None:
    stop = {"now": False}

    def handler(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def azurite(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="devstack azurite", description="Azurite on the standard ports").parse_args(argv)
    with Azurite.start(WORKDIR / "azurite") as running:
        print(f"Azurite serving blobs, queues and tables on 127.0.0.1:10000-10002 (data in {WORKDIR / 'azurite'})")
        print("Ctrl-C stops it.")
        _wait_for_ctrl_c()
        del running
    return 0


def up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="devstack up", description="Azurite + emulator + local functions host")
    parser.add_argument("--event-deliveries", type=int, default=1, help="deliver each Event Grid event N times")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="run the app as N instances on one storage account (timers on one of them, events spread over all)",
    )
    add_speed_arguments(parser)
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    configure_logging(logging.INFO, TIMED_CONSOLE_FORMAT)
    config = StackConfig(
        workdir=WORKDIR,
        host_args=["--event-deliveries", str(args.event_deliveries)],
        emulator_args=speed_arguments(args),
        host_instances=args.instances,
        more_host_ports=tuple(DEFAULT_HOST_PORT + number for number in range(1, args.instances)),
    )
    stack = LocalStack(config)
    try:
        stack.start()  # stops whatever it started if a part fails
    except (SettingsError, RuntimeError, OSError) as exc:
        print(f"devstack up: {exc}", file=sys.stderr)
        return 2
    try:
        settings = stack.settings
        print("Local stack running:")
        print(f"  Azurite      blob/queue/table on 127.0.0.1:{'/'.join(map(str, config.azurite_ports))}")
        print(f"  emulator     {stack.emulator_endpoint} (Document Translation emulator, pseudo-translation)")
        for port in config.host_ports:
            print(f"  host         http://127.0.0.1:{port}/runtime/webhooks/blobs (function_app.app)")
        print(f"  logs         {stack.logs}")
        drop_command = ".venv/bin/python -m devstack drop FILE... [--languages fr,es] [--as NAME]"
        print(f"Drop files:    {drop_command}  (container {settings.source_container})")
        print(
            f"Translations:  container '{settings.target_container}' as <lang>/<file>;"
            f" reports: container '{settings.reports_container}'"
        )
        print("Follow:        .venv/bin/translation-ops status | show FILE | watch")
        print("Ctrl-C stops everything.")
        _wait_for_ctrl_c()
    finally:
        stack.stop()  # the host first, then the emulator, then storage
    return 0


def drop(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack drop",
        description="Upload files into the running local stack's source container, as a user would.",
    )
    parser.add_argument(
        "files", nargs="+", type=Path, help="files or folders to drop; relative paths keep their folders"
    )
    parser.add_argument("--as", dest="name", help="blob name for a single file (default: its path as given)")
    parser.add_argument("--languages", help="comma-separated target languages for these files (blob metadata)")
    args = parser.parse_args(argv)
    if args.name and (len(args.files) != 1 or args.files[0].is_dir()):
        parser.error("--as names one file; give exactly one (not a folder)")
    try:
        files = files_to_drop(args.files)
    except ValueError as exc:
        print(f"devstack drop: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env(merged_environment({}, dict(os.environ)))
    problem = storage_unreachable(settings)
    if problem:
        print(f"devstack drop: {problem}", file=sys.stderr)
        return 2
    paths = [path for path, _ in files]
    names = [args.name] if args.name else [name for _, name in files]
    try:
        dropped = drop_files(settings, paths, languages=args.languages, names=names)
    except (AzureError, OSError) as exc:
        reason = redact(" ".join(str(exc).split()))
        print(f"devstack drop: the upload failed ({reason}); is the stack running (`make up`)?", file=sys.stderr)
        return 1
    for item in dropped:
        print(f"dropped {item.name} (version {item.etag}, record key {item.key})")
    return 0


def files_to_drop(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, blob name) for each file given and each file in each folder given (hidden ones left out),
    a folder's files named by their path under it: `letters` -> `letters/2026/june.txt`. Raises
    ValueError, saying which, for a path that does not exist or a folder with nothing to drop."""
    files = []
    for path in paths:
        if path.is_dir():
            prefix = blob_name_for(path)
            inside = sorted(
                found
                for found in path.rglob("*")
                if found.is_file() and not any(part.startswith(".") for part in found.relative_to(path).parts)
            )
            if not inside:
                raise ValueError(f"{path} is a folder with no files in it; give files, or a folder that has some")
            for found in inside:
                relative = found.relative_to(path).as_posix()
                files.append((found, relative if prefix in ("", ".", "..") else f"{prefix}/{relative}"))
        elif path.is_file():
            files.append((path, blob_name_for(path)))
        elif path.exists():
            raise ValueError(f"{path} is not a file or a folder; give files or folders")
        else:
            raise ValueError(f"no such file or folder: {path}; check the path (relative to {Path.cwd()})")
    return files


def blob_name_for(path: Path) -> str:
    """`a/b/c.txt` stays `a/b/c.txt`; an absolute path or one climbing out (`../x`) keeps its file name."""
    if path.is_absolute() or ".." in path.parts:
        return path.name
    return path.as_posix()


def storage_unreachable(settings: Settings, timeout: float = 2.0) -> str | None:
    """Why the stack's storage cannot be reached (in a second or two), or None."""
    endpoint = ""
    for part in (settings.storage.connection_string or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "blobendpoint":
            endpoint = value.strip()
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return None  # not a local endpoint we can probe; let the upload say what happens
    if port_open(parts.hostname, parts.port or 80, timeout=timeout):
        return None
    return (
        f"the local stack is not running (nothing answers at {parts.hostname}:{parts.port}). "
        "Start it in another terminal with `make up` (or `.venv/bin/python -m devstack up`), then drop again."
    )


commands = {"azurite": azurite, "up": up, "drop": drop}
