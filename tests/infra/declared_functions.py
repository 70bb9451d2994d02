"""The functions function_app.py declares, with their bindings, as the Functions host indexes them."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache

import pytest

from tests.infra.bicep_tree import REPO_ROOT

# FunctionApp.get_functions() refuses to run twice in one process (it sees its own functions as
# duplicates), and other tests may already have called it: ask a fresh interpreter instead.
_LIST_FUNCTIONS = """
import json, function_app
print(json.dumps({fn.get_function_name(): json.loads(fn.get_function_json())["bindings"]
                  for fn in function_app.app.get_functions()}))
"""


@lru_cache(maxsize=1)
def _function_bindings() -> tuple[str, str]:
    completed = subprocess.run(
        [sys.executable, "-c", _LIST_FUNCTIONS], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode:
        return "", completed.stderr or f"exit status {completed.returncode}"
    return completed.stdout, ""


def declared_functions() -> dict[str, list[dict]]:
    stdout, error = _function_bindings()
    if error:
        pytest.skip(f"function_app.py cannot be imported yet: {error.strip().splitlines()[-1]}")
    return json.loads(stdout.strip().splitlines()[-1])
