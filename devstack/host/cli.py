"""`python -m devstack host ...`: serve a function app's triggers locally, in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from devstack.host.config import DEFAULT_APP, HostConfigError
from devstack.host.host import DEFAULT_PORT, LocalFunctionsHost
from shared.runtime import configure_logging
from shared.telemetry import FieldsFormatter

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="host",
        description=(
            "Run the blob (Event Grid), timer and queue triggers of an Azure Functions Python v2 app "
            "against Azurite, like the Functions host would."
        ),
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="folder of function_app.py, host.json and local.settings.json (default: cwd)",
    )
    parser.add_argument(
        "--app", default=DEFAULT_APP, help=f"module:attribute of the FunctionApp (default {DEFAULT_APP})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port of the Event Grid webhook (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument("--host", dest="bind_host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--watch-interval",
        type=float,
        default=1.0,
        help="seconds between scans of blob trigger containers (default 1.0)",
    )
    parser.add_argument(
        "--event-deliveries",
        type=_positive_int,
        default=1,
        help="deliver each blob event N times, to test idempotence (default 1)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=float,
        default=0.0,
        help="deliver this fraction of blob events once more (at least once, as Event Grid; default 0)",
    )
    parser.add_argument(
        "--lose-events",
        dest="event_loss_rates",
        type=_function_rate,
        action="append",
        default=[],
        metavar="FUNCTION=RATE",
        help="never deliver this fraction of one blob trigger's events (its subscription down; repeatable)",
    )
    parser.add_argument(
        "--concurrent-deliveries",
        action="store_true",
        help="send the N copies of an event at the same time from several threads",
    )
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="do not scan containers; blob triggers run only when something POSTs to the webhook",
    )
    parser.add_argument(
        "--watch-only",
        dest="watch_only",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="scan only this blob trigger's container (repeatable); the others' events come by the webhook",
    )
    parser.add_argument(
        "--instance-id", default="0", help="this instance's name, when several run on one storage account"
    )
    parser.add_argument(
        "--peer-port",
        dest="peer_ports",
        type=int,
        action="append",
        default=[],
        help="webhook port of an instance of the app (repeat for each, own included): events are spread over them",
    )
    parser.add_argument(
        "--singleton-lock-seconds",
        type=float,
        default=None,
        help="listener lock period and recovery interval of timers (host.json singleton; default 60)",
    )
    parser.add_argument(
        "--message-lease-seconds",
        type=float,
        default=600,
        help="how long a received queue message stays invisible, renewed while it runs (default 600, as Azure)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    return parser


def _function_rate(text: str) -> tuple[str, float]:
    name, _, rate = text.partition("=")
    try:
        value = float(rate)
    except ValueError:
        value = -1.0
    if not name or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected FUNCTION=RATE with RATE within 0..1, got {text!r}")
    return name, value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _configure_logging(verbose: bool) -> None:
    # The app's structured fields (source path, version, record key, job id...) follow each message.
    handler = logging.StreamHandler()
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # The host's own lines, readable: the SDKs' per-request lines and httpx's stay out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    configure_logging()


def refuse_impossible_app_settings(host: LocalFunctionsHost) -> None:
    """The real host starts and lets every invocation fail on impossible settings; locally we refuse
    to start, naming each one, when the app is this project's (its triggers live in shared.triggers
    and read their settings with shared.settings)."""
    if not any(function.user_function.__module__.startswith("shared.triggers.") for function in host.functions):
        return
    from shared.settings import Settings

    Settings.from_env()  # raises SettingsError (a ValueError) naming each bad setting and what to fix


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    project_dir = args.project_dir.resolve()
    try:
        host = LocalFunctionsHost.from_project(
            project_dir,
            args.app,
            port=args.port,
            bind_host=args.bind_host,
            watch_interval=args.watch_interval,
            event_deliveries=args.event_deliveries,
            concurrent_deliveries=args.concurrent_deliveries,
            duplicate_rate=args.duplicate_rate,
            event_loss_rates=dict(args.event_loss_rates),
            watch=not args.no_watch,
            watch_only=tuple(args.watch_only),
            instance_id=args.instance_id,
            event_target_ports=tuple(args.peer_ports),
            singleton_lock_seconds=args.singleton_lock_seconds,
            message_lease_seconds=args.message_lease_seconds,
        )
        refuse_impossible_app_settings(host)
        host.start()
    except (HostConfigError, OSError, ValueError) as exc:
        print(f"host: {exc}", file=sys.stderr)
        return 2

    received: list[str] = []

    def request_stop(signum: int, _frame: object) -> None:
        # No logging here: a signal handler may interrupt a thread that holds the logging lock.
        received.append(signal.Signals(signum).name)
        host.request_stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Serving {args.app} from {project_dir} ({len(host.functions)} functions):")
    for line in host.describe():
        print(f"  {line}")
    print("Press Ctrl+C to stop.", flush=True)
    host.wait()
    logger.info("received %s: stopping (running invocations get a few seconds)", ", ".join(received) or "stop")
    host.stop()
    return 0
