"""The README's tables of the operator tool's exit codes and JSON keys agree with the code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from translation_ops import queries
from translation_ops.failures import ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def operator_section() -> str:
    text = README.read_text()
    return text[text.index("## Operating it: `translation-ops`") : text.index("## Tests and the fault matrix")]


@pytest.mark.parametrize("code", list(ExitCode))
def test_the_readme_tells_every_exit_code(code):
    assert f"\n| {int(code)} | " in operator_section(), f"exit code {int(code)} ({code.name}) is not in the README"


def test_the_readme_names_every_json_key_of_status_and_show():
    section = operator_section()
    status_keys = [field.name for field in dataclasses.fields(queries.Status)]
    nested = [queries.Outstanding, queries.JobProgress, queries.Attention]
    nested_keys = [field.name for cls in nested for field in dataclasses.fields(cls)]
    show_keys = list(queries.FileHistory("source/a.txt", None, [], [], None, {}).to_json())
    for key in status_keys + show_keys:
        assert f"| `{key}` |" in section, key
    for key in nested_keys:
        assert f"`{key}`" in section, key
