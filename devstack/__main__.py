"""`python -m devstack <command>`: the local stack's entry point (`<command> --help` for each)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

COMMANDS = {
    "up": "Azurite + emulator + local functions host in the foreground; prints where to drop files",
    "drop": "upload files into the running stack's source container, as a user would",
    "demo": "the product end to end on a fresh stack, then a table of every outcome",
    "emulator": "the Document Translation emulator alone (devstack/emulator/)",
    "host": "the local functions host alone, running function_app.app (devstack/host/)",
    "azurite": "Azurite alone, on the standard ports, data in .devstack/azurite",
    "storage-proxy": "a proxy in front of Azurite that loses answers and answers ServerBusy (chaos)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description="The local stack: never deployed, never Azure."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        # Each command parses its own arguments (and its own --help): they pass through untouched.
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def command(name: str) -> Callable[[list[str]], int]:
    if name == "emulator":
        from devstack.emulator.cli import main as run_emulator

        return run_emulator
    if name == "host":
        from devstack.host.cli import main as run_host

        return run_host
    if name == "storage-proxy":
        from devstack.storage_proxy import main as run_proxy

        return run_proxy
    if name == "demo":
        from devstack.demo import main as run_demo

        return run_demo
    from devstack.stack_cli import commands

    return commands[name]


def main(argv: list[str] | None = None) -> int:
    args, arguments = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    return command(args.command)(arguments)


if __name__ == "__main__":
    sys.exit(main())
