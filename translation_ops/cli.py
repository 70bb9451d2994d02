"""The command line: thin over queries.py (what to look at) and actions.py (what to do)."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer._click.exceptions import NoArgsIsHelpError  # typer's own click, vendored
from typer.core import TyperGroup

from shared.pipeline import rules
from shared.pipeline.context import PipelineContext
from shared.storage.records import Outcome
from translation_ops import actions, queries, render
from translation_ops.connection import DEAD_LETTER_CONTAINER, Target
from translation_ops.failures import DEBUG_VARIABLE, ExitCode, Failure, OperatorFailure, failure_of

logger = logging.getLogger(__name__)

# Azure's rules for a storage account and a container name.
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
MAX_BLOB_NAME = 1024
# Records are kept for years at most; a longer period is a typo (and overflows a date).
MAX_SINCE = timedelta(days=3650)
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOT_FOUND_ADVICE = "check the name (`status` lists the files outstanding)"


class OperatorCommands(TyperGroup):
    """Every failure ends in one line on stderr and its exit code (failures.py), never a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
            code = result if isinstance(result, int) else ExitCode.OK
        except NoArgsIsHelpError as exc:
            exc.show()
            code = ExitCode.USAGE
        except typer.Abort:
            code = _tell(failure_of(KeyboardInterrupt(), _target))
        except Exception as exc:
            failure = failure_of(exc, _target)
            if failure.code is ExitCode.INTERNAL and os.environ.get(DEBUG_VARIABLE):
                raise
            code = _tell(failure)
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


def _tell(failure: Failure) -> ExitCode:
    typer.echo(failure.line(), err=True)
    return failure.code


app = typer.Typer(
    cls=OperatorCommands,
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


def _account(value: str | None) -> str | None:
    if value is not None and not ACCOUNT_NAME.match(value):
        raise typer.BadParameter(f"{value!r} is not a storage account name (3-24 lower-case letters and digits)")
    return value


def _endpoint(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise typer.BadParameter(f"{value!r} is not a URL (like https://<name>.cognitiveservices.azure.com)")
    return value


def _file_name(value: str | None) -> str | None:
    """A file as `name` or `source/name`: not empty, not a folder."""
    if value is None:
        return None
    if not value.strip():
        raise typer.BadParameter("an empty name: name a file, as `name` or `source/name`")
    if value.endswith("/"):
        raise typer.BadParameter(f"{value!r} ends with '/', so it names a folder: name a file in it")
    if len(value) > MAX_BLOB_NAME:
        raise typer.BadParameter(f"a name of {len(value)} characters: a blob name has at most {MAX_BLOB_NAME}")
    return value


def _file_names(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        _file_name(value)
    return values


def _since(text: str) -> timedelta:
    """'30m', '12h', '7d' -> a duration."""
    try:
        amount, seconds_per_unit = float(text[:-1]), SINCE_UNITS[text[-1:]]
    except (KeyError, ValueError):
        raise typer.BadParameter(f"{text!r}: use a number and s, m, h or d (like 30m, 12h, 7d)") from None
    if not math.isfinite(amount) or amount <= 0 or amount * seconds_per_unit > MAX_SINCE.total_seconds():
        raise typer.BadParameter(f"{text!r}: give a period above 0 and up to {MAX_SINCE.days}d (like 30m, 12h, 7d)")
    return timedelta(seconds=amount * seconds_per_unit)


def _container_name(value: str) -> str:
    if not CONTAINER_NAME.match(value):
        raise typer.BadParameter(
            f"{value!r} is not a container name (3-63 lower-case letters, digits and single hyphens, "
            "starting and ending with a letter or digit)"
        )
    return value


AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        envvar="TRANSLATION_OPS_ACCOUNT",
        callback=_account,
        help="Azure storage account of the documents.",
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--translator-endpoint",
        envvar="TRANSLATOR_ENDPOINT",
        callback=_endpoint,
        help="Translator endpoint (for cancel).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SinceOption = Annotated[
    timedelta | None,
    typer.Option(parser=_since, metavar="PERIOD", help="Recorded in this last period only (30m, 12h, 7d)."),
]


@app.callback()
def connect(account: AccountOption = None, translator_endpoint: EndpointOption = None) -> None:
    global _target
    _target = Target(account=account, translator_endpoint=translator_endpoint)


def _context() -> PipelineContext:
    return _target.context()


def _fail(code: ExitCode, what: str, todo: str) -> OperatorFailure:
    return OperatorFailure(Failure(code, what, todo))


def _print_tables(tables: list[Any]) -> None:
    out = render.console()
    for table in tables:
        out.print(table)
        out.print()


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command()
def status(as_json: JsonOption = False, since: SinceOption = None) -> None:
    """Counts by state and outcome, outstanding files with their age and progress, what needs attention."""
    result = queries.status(_context(), since=since)
    if as_json:
        _emit_json(result.to_json())
        return
    _print_tables(render.status_tables(result))


@app.command()
def show(
    source_path: Annotated[str, typer.Argument(callback=_file_name, help="The file, as `name` or `source/name`.")],
    as_json: JsonOption = False,
) -> None:
    """Everything about one file: its versions, jobs, outcome per language, reasons, characters, translations."""
    history = queries.show(_context(), source_path)
    if as_json:
        _emit_json(history.to_json())
    if not history.found:
        raise _fail(ExitCode.NOT_FOUND, f"{history.source_path}: no such file, and no record of it", NOT_FOUND_ADVICE)
    if as_json:
        return
    if not history.recorded and not history.outstanding:
        render.console().print(f"{history.source_path}: no record yet (current version {history.current_version})")
        return
    _print_tables(render.history_tables(history))


@app.command()
def watch(
    source_paths: Annotated[
        list[str] | None,
        typer.Argument(callback=_file_names, help="Files to follow (default: everything outstanding)."),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0, help="Give up after this many seconds.")] = 3600.0,
    interval: Annotated[float, typer.Option(min=0, help="Seconds between looks.")] = 1.0,
) -> None:
    """Live progress until the files (or everything outstanding now) have a final record; exit 1 if any did not succeed, 7 on timeout."""  # noqa: E501
    ctx = _context()
    keys: dict[str, str] = {}  # record key -> source path
    if source_paths:
        for path in source_paths:
            container, name = queries.resolve_path(ctx, path)
            _, key = queries.current_key(ctx, container, name)
            if key is None:
                raise _fail(ExitCode.NOT_FOUND, f"{container}/{name} does not exist", NOT_FOUND_ADVICE)
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
        raise _fail(
            ExitCode.TIMED_OUT,
            f"{len(keys) - len(finals)} files had no final record after {timeout:.0f}s",
            "`status` tells where they stand; `watch` them again to wait longer",
        )
    render.console().print(render.outcome_table(finals.values()))
    failed = [f for f in finals.values() if f.outcome not in (Outcome.SUCCEEDED, Outcome.SUPERSEDED, Outcome.REUSED)]
    if failed:
        raise _fail(
            ExitCode.REFUSED,
            f"{len(failed)} of {len(finals)} files did not succeed",
            "`show FILE` tells why; `retry FILE` once the cause is fixed",
        )


@app.command()
def retry(
    source_path: Annotated[str | None, typer.Argument(callback=_file_name, help="The file to submit again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every file that did not succeed.")] = False,
    since: SinceOption = None,
) -> None:
    """Submit again what failed or was rejected for a reason that may have passed (a role, a glossary, a setting was fixed)."""  # noqa: E501
    if failed == bool(source_path):
        raise typer.BadParameter("give a file, or --failed (not both)")
    ctx = _context()
    if source_path:
        final = actions.retry(ctx, source_path)
        render.console().print(f"{source_path}: submitted again (it had ended {final.outcome})")
        return
    reopened = actions.retry_failed(ctx, since=since)
    render.console().print(f"{len(reopened)} files submitted again")
    for final in reopened:
        render.console().print(f"  {final.source_name} (was {final.outcome}: {final.reason_code or '-'})")


@app.command()
def cancel(
    source_path: Annotated[str, typer.Argument(callback=_file_name, help="The file whose job to cancel.")],
) -> None:
    """Cancel the job of a file in flight; it ends Cancelled (documents already done are still billed)."""
    done = actions.cancel(_context(), source_path)
    render.console().print(f"{source_path}: {done}")


@app.command()
def redrive(
    dead_letter_container: Annotated[
        str, typer.Option(callback=_container_name, help="Event Grid's dead-letter container.")
    ] = DEAD_LETTER_CONTAINER,
) -> None:
    """Move messages from the poison queues back, and replay dead-lettered Event Grid events, each once."""
    done = actions.redrive(_context(), dead_letter_container=dead_letter_container)
    out = render.console()
    out.print(
        f"{done.results} results messages moved back, {done.drops} poisoned drops and "
        f"{done.events} dead-lettered events submitted again; {done.looks} written translations' jobs looked at"
    )
    for skipped in done.skipped:
        out.print(f"  skipped {skipped}")


rules_app = typer.Typer(
    help="The rules per folder (RULES_BLOB): check a rules document before uploading it, show the one stored.",
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")
# A sample path per rule, when no --path is given: what a file dropped there gets.
SAMPLE_FILE = "example.docx"


def _rule_rows(rows: list[dict[str, Any]]) -> None:
    table = render.rules_table(rows)
    render.console().print(table)


@rules_app.command("check")
def rules_check(
    rules_file: Annotated[Path, typer.Argument(help="The rules document (JSON) to check.", dir_okay=False)],
    paths: Annotated[
        list[str] | None,
        typer.Option("--path", callback=_file_names, help="A path in the source container to match (repeatable)."),
    ] = None,
    languages: Annotated[
        bool, typer.Option("--languages", help="Also ask the service whether it translates every language named.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate a rules document locally and print which rule each path gets (by default a sample path per rule)."""
    try:
        text = rules_file.read_bytes()
    except OSError as exc:
        raise _fail(
            ExitCode.NOT_FOUND, f"cannot read {rules_file}: {exc.strerror}", "give the path of a JSON file"
        ) from exc
    try:
        document = rules.parse_rules(text)
        if languages:
            supported = _context().languages.get()
            if supported is None:
                raise _fail(
                    ExitCode.UNREACHABLE,
                    "the service did not say which languages it translates",
                    "check TRANSLATOR_ENDPOINT and the network, or check without --languages",
                )
            document = rules.checked(document, supported)
    except rules.RulesError as exc:
        raise _fail(ExitCode.REFUSED, f"{rules_file} cannot be used: {exc}", "fix it and check it again") from exc
    samples = paths or [SAMPLE_FILE, *(f"{rule.prefix}{SAMPLE_FILE}" for rule in document.rules)]
    matched = rules.describe(document, samples)
    if as_json:
        _emit_json({"rules_file": str(rules_file), "valid": True, "rules": len(document.rules), "paths": matched})
        return
    render.console().print(f"{rules_file}: {len(document.rules)} rules, valid")
    _rule_rows(matched)


@rules_app.command("show")
def rules_show(
    languages: Annotated[
        bool, typer.Option("--languages", help="Also ask the service whether it translates every language named.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The rules document stored at RULES_BLOB, whether the app can use it, and the app's flag on it; exit 1 if it cannot."""  # noqa: E501
    stored = queries.stored_rules(_context(), check_languages=languages)
    if as_json:
        _emit_json(stored.to_json())
    elif stored.rules_blob is None:
        render.console().print("no rules: RULES_BLOB is empty (every file gets the settings)")
    elif stored.version is None:
        render.console().print(f"no rules: {stored.rules_blob} does not exist (every file gets the settings)")
    elif stored.problem is None:
        render.console().print(f"{stored.rules_blob} (version {stored.version}): {len(stored.rules)} rules")
        _rule_rows([{"path": None, "rule": rule["prefix"], **rule} for rule in stored.rules])
    if stored.problem is not None:
        raise _fail(
            ExitCode.REFUSED,
            f"{stored.rules_blob} (version {stored.version}) cannot be used: {stored.problem}",
            "fix it (`rules check FILE`) and upload it again; each instance keeps the last good rules meanwhile",
        )
    if stored.flagged and not as_json:
        render.console().print(f"flagged since {stored.flagged['since']}: {stored.flagged['reason']}")


def main() -> None:
    import logging

    from shared.runtime import configure_logging

    configure_logging(logging.WARNING)
    # The SDKs' own warnings (a credential chain's attempts, a retry) would bury the one line that
    # tells what failed and what to do.
    logging.getLogger("azure").setLevel(logging.ERROR)
    app()
