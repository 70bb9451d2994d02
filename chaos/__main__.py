"""`make chaos`: the fault matrix on the local stack, one row per scenario.

    python -m chaos [--only NAME-FRAGMENT ...] [--scale N] [--json FILE]

Exits non-zero when any scenario loses a file, starts a duplicate job, leaves an older
translation published, ends a file without a reason, loses an outcome event (or sends a second
distinct one for a record), or spends a job or a character on bytes
already dropped.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict

from chaos.harness import Row, run_scenario
from chaos.scenarios import all_scenarios
from shared.runtime import configure_logging

COLUMNS = (
    ("scenario", "scenario"),
    ("files", "files"),
    ("faults", "faults injected"),
    ("jobs", "jobs"),
    ("lost", "lost"),
    ("duplicate_batches", "duplicate batches"),
    ("wrong_translations", "wrong translations"),
    ("unexplained_failures", "failures without a reason"),
    ("recorded_late", "recorded > 60 s after its job"),
    ("repeats", "jobs / characters for repeated bytes"),
    ("events", "outcome events lost / extra / repeated"),
    ("service_calls", "service calls"),
    ("settle_seconds", "seconds to settle"),
)


def cell(row: Row, name: str) -> str:
    if name == "repeats":
        if row.repeat_jobs is None:
            return "-"
        return f"{row.repeat_jobs} / {row.repeat_characters}" + (" (baseline, not held)" if row.baseline else "")
    if name == "events":
        return "-" if row.events_lost is None else f"{row.events_lost} / {row.events_extra} / {row.events_repeated}"
    if name == "recorded_late" and not row.held_on_time:
        return f"{row.recorded_late} (not held to it)" if row.recorded_late else "0"
    return str(getattr(row, name))


def table(rows: list[Row]) -> str:
    cells = [[title for _, title in COLUMNS]] + [[cell(row, name) for name, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |" for line in cells
    ]
    lines.insert(1, "| " + " | ".join("-" * width for width in widths) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[], help="run the scenarios whose name contains one of these")
    parser.add_argument("--scale", type=int, default=1, help="multiply the file counts (default 1)")
    parser.add_argument("--json", dest="json_path", help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    configure_logging(logging.WARNING)

    scenarios = [
        scenario
        for scenario in all_scenarios(args.scale)
        if not args.only or any(fragment.lower() in scenario.name.lower() for fragment in args.only)
    ]
    rows: list[Row] = []
    started = time.monotonic()
    for scenario in scenarios:
        print(f"running: {scenario.name} ...", flush=True)
        row = run_scenario(scenario)
        rows.append(row)
        verdict = "ok" if row.promises_kept else "PROMISE BROKEN"
        print(f"  {verdict}: {row.files} files, outcomes {row.outcomes}, {row.settle_seconds}s", flush=True)
        for note in row.notes[:5]:
            print(f"    {note}", flush=True)
    print()
    print(table(rows))
    print(f"\n{len(rows)} scenarios in {time.monotonic() - started:.0f}s")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump([asdict(row) for row in rows], out, indent=2)
    return 0 if all(row.promises_kept for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
