"""`python -m devstack <command>`: the local stack's entry point.

emulator   the Document Translation emulator (devstack/emulator/)
host       the local functions host running function_app.app (devstack/host/)
azurite    Azurite alone, on the standard ports, data in .devstack/azurite
up         Azurite + emulator + host in the foreground; prints where to drop files
drop       upload files into the source container (optionally with target languages)
demo       the product end to end on a fresh stack, then a table of every outcome
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "emulator":
        from devstack.emulator.cli import main as run
    elif command == "host":
        from devstack.host.cli import main as run
    elif command in ("azurite", "up", "drop"):
        from devstack.stack_cli import commands

        run = commands[command]
    elif command == "demo":
        from devstack.demo import main as run
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
