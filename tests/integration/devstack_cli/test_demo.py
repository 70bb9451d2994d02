"""`make demo` (`python -m devstack demo`) ends by saying how to look again, not at a stack it stopped."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[3]


def test_the_demo_shows_the_status_before_stopping_and_ends_with_how_to_start_a_stack_that_stays():
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "demo"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    status_at = next(index for index, line in enumerate(lines) if "translation-ops status, before" in line)
    assert any("recorded: Succeeded" in line for line in lines[status_at:])
    # One sample lands in a folder whose rule (samples/rules.json) gives it other languages.
    [ruled] = [line for line in lines if line.startswith("espanol/welcome.txt is under the folder rule")]
    assert "'espanol/'" in ruled and "into es only" in ruled and "get fr, de" in ruled
    last = lines[-1]
    assert "stopped" in last and "`make up`" in last
    # Commands as typed from the repository: the console script is in the virtualenv, not on PATH.
    assert "`.venv/bin/translation-ops status`" in last and "`translation-ops" not in last
    assert "`.venv/bin/python -m devstack drop samples/documents`" in last
