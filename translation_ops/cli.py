"""The command line: thin over queries.py (what to look at) and actions.py (what to do)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, NoReturn

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.pipeline.context import PipelineContext
from shared.storage.records import Outcome
from translation_ops import actions, queries, render
from translation_ops.connection import DEAD_LETTER_CONTAINER, Target

app = typer.Typer(
    name="translation-ops",
    help=(
        "Look after the drop-folder translation service: how things stand, one file's history, live "
        "progress, and the operator's actions (retry, cancel, redrive). Against the local stack by "
        "default (settings from local.settings.json); against Azure with --account (your az login)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_target = Target()

AccountOption = Annotated[
    str | None,
    typer.Option("--account", envvar="TRANSLATION_OPS_ACCOUNT", help="Azure storage account of the documents."),
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--translator-endpoint", envvar="TRANSLATOR_ENDPOINT", help="Translator endpoint (for cancel)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.callback()
def connect(account: AccountOption = None, translator_endpoint: EndpointOption = None) -> None:
    global _target
    _target = Target(account=account, translator_endpoint=translator_endpoint)


def _context() -> PipelineContext:
    try:
        return _target.context()
    except ValueError as exc:  # SettingsError: say what to fix, no traceback
        _fail(str(exc), 2)


def _fail(message: str, code: int = 1) -> NoReturn:
    render.console().print(f"[red]{message}[/red]", markup=True)
    raise typer.Exit(code)


def _print_tables(tables: list[Any]) -> None:
    out = render.console()
    for table in tables:
        out.print(table)
        out.print()


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _since(text: str | None) -> timedelta | None:
    """'30m', '12h', '7d' -> a duration."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError):
        raise typer.BadParameter(f"{text!r}: use a number and s, m, h or d (like 30m, 12h, 7d)") from None


@app.command()
def status(
    as_json: JsonOption = False,
    since: Annotated[
        str | None, typer.Option(help="Count recorded files of this last period only (30m, 12h, 7d).")
    ] = None,
) -> None:
    """Counts by state and outcome, outstanding files with their age and progress, what needs attention."""
    result = queries.status(_context(), since=_since(since))
    if as_json:
        _emit_json(result.to_json())
        return
    _print_tables(render.status_tables(result))


@app.command()
def show(
    source_path: Annotated[str, typer.Argument(help="The file, as `name` or `source/name`.")],
    as_json: JsonOption = False,
) -> None:
    """Everything about one file: its versions, jobs, outcome per language, reasons, characters, translations."""
    history = queries.show(_context(), source_path)
    if not history.recorded and not history.outstanding:
        if as_json:
            _emit_json({"source_path": history.source_path, "current_version": history.current_version, "versions": []})
        else:
            render.console().print(f"{history.source_path}: no record (current version {history.current_version})")
        raise typer.Exit(1 if history.current_version is None else 0)
    if as_json:
        _emit_json(
            {
                "source_path": history.source_path,
                "current_version": history.current_version,
                "outstanding": [asdict(record) for record in history.outstanding],
                "recorded": [asdict(record) for record in history.recorded],
                "translations": history.translations,
                "report": history.report,
            }
        )
        return
    _print_tables(render.history_tables(history))


@app.command()
def watch(
    source_paths: Annotated[
        list[str] | None, typer.Argument(help="Files to follow (default: everything outstanding).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600.0,
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 1.0,
) -> None:
    """Live progress until the files (or everything outstanding now) have a final record; exit 1 if any did not succeed, 2 on timeout."""  # noqa: E501
    ctx = _context()
    keys: dict[str, str] = {}  # record key -> source path
    if source_paths:
        for path in source_paths:
            container, name = queries.resolve_path(ctx, path)
            _, key = queries.current_key(ctx, container, name)
            if key is None:
                _fail(f"{container}/{name} does not exist", 2)
            keys[key] = f"{container}/{name}"
    else:
        keys = {record.key: f"{record.source_container}/{record.source_name}" for record in ctx.records.outstanding()}
    if not keys:
        render.console().print("nothing outstanding")
        return
    deadline = time.monotonic() + timeout
    finals: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=render.console(),
        transient=False,
    ) as progress:
        tasks = {
            key: progress.add_task(render.short(path, 50), total=None, state="waiting") for key, path in keys.items()
        }
        while len(finals) < len(keys) and time.monotonic() < deadline:
            for key, task in tasks.items():
                if key in finals:
                    continue
                final = ctx.records.get_final(key)
                if final is not None:
                    finals[key] = final
                    progress.update(task, total=max(final.total, 1), completed=max(final.total, 1), state=final.outcome)
                    continue
                record = ctx.records.get_open(key)
                if record is not None:
                    submission = ctx.schedule.get_submission(record.submission) if record.submission else None
                    item = queries.Outstanding.of(record, submission, ctx.now())
                    progress.update(
                        task, total=item.documents_total or None, completed=item.documents_done, state=item.state
                    )
            if len(finals) < len(keys):
                time.sleep(interval)
    if len(finals) < len(keys):
        _fail(f"{len(keys) - len(finals)} files had no final record after {timeout:.0f}s", 2)
    render.console().print(render.outcome_table(finals.values()))
    failed = [f for f in finals.values() if f.outcome not in (Outcome.SUCCEEDED, Outcome.SUPERSEDED, Outcome.REUSED)]
    if failed:
        raise typer.Exit(1)


@app.command()
def retry(
    source_path: Annotated[str | None, typer.Argument(help="The file to submit again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every file that did not succeed.")] = False,
    since: Annotated[
        str | None, typer.Option(help="With --failed: recorded in this last period (30m, 12h, 7d).")
    ] = None,
) -> None:
    """Submit again what failed or was rejected for a reason that may have passed (a role, a glossary, a setting was fixed)."""  # noqa: E501
    ctx = _context()
    if failed == bool(source_path):
        raise typer.BadParameter("give a file, or --failed (not both)")
    if source_path:
        try:
            final = actions.retry(ctx, source_path)
        except actions.ActionRefused as exc:
            _fail(str(exc))
        render.console().print(f"{source_path}: submitted again (it had ended {final.outcome})")
        return
    reopened = actions.retry_failed(ctx, since=_since(since))
    render.console().print(f"{len(reopened)} files submitted again")
    for final in reopened:
        render.console().print(f"  {final.source_name} (was {final.outcome}: {final.reason_code or '-'})")


@app.command()
def cancel(source_path: Annotated[str, typer.Argument(help="The file whose job to cancel.")]) -> None:
    """Cancel the job of a file in flight; it ends Cancelled (documents already done are still billed)."""
    try:
        done = actions.cancel(_context(), source_path)
    except actions.ActionRefused as exc:
        _fail(str(exc))
    render.console().print(f"{source_path}: {done}")


@app.command()
def redrive(
    dead_letter_container: Annotated[
        str, typer.Option(help="Event Grid's dead-letter container.")
    ] = DEAD_LETTER_CONTAINER,
) -> None:
    """Move messages from the poison queues back, and replay dead-lettered Event Grid events, each once."""
    done = actions.redrive(_context(), dead_letter_container=dead_letter_container)
    out = render.console()
    out.print(
        f"{done.results} results messages moved back, {done.drops} poisoned drops and "
        f"{done.events} dead-lettered events submitted again"
    )
    for skipped in done.skipped:
        out.print(f"  skipped {skipped}")


def main() -> None:
    import logging

    from shared.runtime import configure_logging

    configure_logging(logging.WARNING)
    app()
