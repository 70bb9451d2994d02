"""The operator tool's tests run on Azurite with the pipeline tests' scripted service."""

import pytest
from typer.testing import CliRunner

from tests.pipeline.conftest import clock, ctx, make_context, service  # noqa: F401  (fixtures)
from translation_ops import cli


@pytest.fixture
def run(ctx, monkeypatch):  # noqa: F811
    """Runs `translation-ops ARGS...` against the test's context; returns (exit code, output)."""
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, list(args))
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def run_split(ctx, monkeypatch):  # noqa: F811
    """Runs `translation-ops ARGS...` against the test's context; returns the result (stdout and stderr apart)."""
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, list(args))
