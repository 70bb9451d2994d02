"""Runs checkov over infra/ and fails unless every check passes or is skipped with a reason.

`make iac-scan` (part of `make test`) runs `python -m tests.infra.iac_scan PATH_TO_CHECKOV`.
Checkov silently passes a file it cannot parse, so this also fails when a template yields a
parsing error or no scanned resource. A skip is a `// checkov:skip=CKV_...: reason` line inside
the resource it concerns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _reports(output: str) -> list[dict]:
    data = json.loads(output)
    return data if isinstance(data, list) else [data]


def main(checkov: str) -> int:
    completed = subprocess.run(
        [
            checkov,
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if not completed.stdout.strip():
        print(completed.stderr, file=sys.stderr)
        print("error: checkov printed no report", file=sys.stderr)
        return 1
    problems: list[str] = []
    passed = failed = skipped = 0
    scanned_files: Counter[str] = Counter()
    for report in _reports(completed.stdout):
        results = report.get("results", {})
        summary = report.get("summary", {})
        if summary.get("parsing_errors"):
            problems.append(f"checkov could not parse {summary['parsing_errors']} file(s) under infra/")
        for check in results.get("passed_checks", []):
            passed += 1
            scanned_files[check["file_path"].lstrip("/")] += 1
        for check in results.get("failed_checks", []):
            failed += 1
            scanned_files[check["file_path"].lstrip("/")] += 1
            problems.append(
                f"FAILED {check['check_id']} {check['check_name']} -- {check['resource']} "
                f"({check['file_path']}:{check['file_line_range'][0]})"
            )
        for check in results.get("skipped_checks", []):
            skipped += 1
            scanned_files[check["file_path"].lstrip("/")] += 1
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            if not reason or reason == "No comment provided":
                problems.append(f"SKIPPED WITHOUT A REASON {check['check_id']} -- {check['resource']}")
            else:
                print(f"skipped {check['check_id']} on {check['resource']}: {reason.strip()}")
    # Files whose resources checkov has checks for must show up; a silent parse failure would not.
    for expected in ("modules/storage.bicep", "modules/functionapp.bicep", "modules/translator.bicep"):
        if not any(path.endswith(expected) for path in scanned_files):
            problems.append(f"checkov reported nothing for infra/{expected}: was it parsed?")
    print(f"checkov (bicep): {passed} passed, {failed} failed, {skipped} skipped (each with a reason)")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
