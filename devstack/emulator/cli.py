"""`python -m devstack emulator ...`: serve the Document Translation emulator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from devstack.azurite import PROJECT_ROOT
from devstack.emulator.app import FLAVOURS_BANNER
from devstack.emulator.options import LOST_ANSWER_MODES, EmulatorOptions
from devstack.emulator.server import EmulatorServer
from shared.runtime import TIMED_CONSOLE_FORMAT, configure_logging

DEFAULTS = EmulatorOptions()
DEFAULT_STATE_DIR = PROJECT_ROOT / ".devstack" / "emulator-state"


def _fraction(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0.0..1.0, got {value}")
    return number


def _modes(value: str) -> tuple[str, ...]:
    modes = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = set(modes) - set(LOST_ANSWER_MODES)
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"must be some of {','.join(LOST_ANSWER_MODES)}, got {value!r}")
    return modes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emulator",
        description="Local emulator of Azure AI Document Translation (marked pseudo-translation; never deployed).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5080, help="0 picks a free port")
    parser.add_argument("--key", required=True, help="the subscription key clients must send")
    parser.add_argument("--region", default=None, help="when set, a differing Ocp-Apim-Subscription-Region is refused")
    parser.add_argument("--bearer-token", default=None, help="also accept 'Authorization: Bearer TOKEN'")
    parser.add_argument(
        "--storage-connection-string",
        default=None,
        help="credential used for URLs without a SAS (managed-identity mode)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="REQUESTS_PER_SECOND",
        help="answer 429 RequestRateTooHigh above this rate",
    )
    parser.add_argument(
        "--fault-rate",
        type=_fraction,
        default=DEFAULTS.fault_rate,
        help="fraction of requests answered 500/503 (nothing done)",
    )
    parser.add_argument(
        "--lost-answer-rate",
        type=_fraction,
        default=DEFAULTS.lost_answer_rate,
        help="fraction of start-batch calls whose job is created and whose answer is lost",
    )
    parser.add_argument(
        "--lost-answer-modes",
        type=_modes,
        default=DEFAULTS.lost_answer_modes,
        help=f"how answers are lost, some of {','.join(LOST_ANSWER_MODES)} (default: all)",
    )
    parser.add_argument(
        "--list-delay-seconds",
        type=float,
        default=DEFAULTS.list_delay_seconds,
        help="a new job is not listed, nor its documents, for this long",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"jobs survive a restart here (default {DEFAULT_STATE_DIR}); 'none' keeps them in memory",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every request")
    add_speed_arguments(parser)
    parser.add_argument(
        "--status-lag-seconds",
        type=float,
        default=DEFAULTS.status_lag_seconds,
        help="a document's status says Succeeded this long after its translation is written",
    )
    parser.add_argument(
        "--announce-writes",
        dest="announce_writes_to",
        default=None,
        metavar="WEBHOOK_URL",
        help="POST each written translation's BlobCreated event there, as Event Grid would",
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the fault injection")
    parser.add_argument("--workers", type=int, default=DEFAULTS.workers, help="jobs processed in parallel")
    parser.add_argument(
        "--documents-in-parallel",
        type=int,
        default=DEFAULTS.documents_in_parallel,
        help=f"source documents of one job translated at once (default {DEFAULTS.documents_in_parallel})",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def add_speed_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's translation speed; `devstack up` offers the same flags and passes them on."""
    parser.add_argument(
        "--chars-per-second",
        type=float,
        default=DEFAULTS.chars_per_second,
        help=f"translation speed (default {DEFAULTS.chars_per_second:,})",
    )
    parser.add_argument(
        "--document-seconds",
        type=float,
        default=DEFAULTS.document_seconds,
        help=f"minimum time per document; raise it to watch jobs in flight (default {DEFAULTS.document_seconds})",
    )


def speed_arguments(args: argparse.Namespace) -> list[str]:
    """The flags `add_speed_arguments` parsed, as the emulator's command line takes them."""
    return ["--chars-per-second", str(args.chars_per_second), "--document-seconds", str(args.document_seconds)]


def options_from_args(args: argparse.Namespace) -> EmulatorOptions:
    return EmulatorOptions(
        key=args.key,
        region=args.region,
        bearer_token=args.bearer_token,
        storage_connection_string=args.storage_connection_string,
        rate_limit=args.rate_limit,
        fault_rate=args.fault_rate,
        lost_answer_rate=args.lost_answer_rate,
        lost_answer_modes=tuple(args.lost_answer_modes),
        list_delay_seconds=args.list_delay_seconds,
        state_dir=None if str(args.state_dir).lower() == "none" else args.state_dir,
        latency_ms=args.latency_ms,
        chars_per_second=args.chars_per_second,
        document_seconds=args.document_seconds,
        status_lag_seconds=args.status_lag_seconds,
        announce_writes_to=args.announce_writes_to,
        seed=args.seed,
        workers=args.workers,
        documents_in_parallel=args.documents_in_parallel,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What a developer reads: the emulator's own lines, not the storage SDK's request dumps.
    configure_logging(args.log_level.upper(), TIMED_CONSOLE_FORMAT)
    options = options_from_args(args)
    server = EmulatorServer.bind(options, args.host, args.port)
    print(f"Document Translation emulator serving {server.endpoint} (flavours {FLAVOURS_BANNER})", flush=True)
    # uvicorn re-raises the signal that stopped it once it has shut down; a stop asked for is a clean exit.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _exit_cleanly(signal_number: int, _frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    raise SystemExit(main())
