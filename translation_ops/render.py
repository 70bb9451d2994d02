"""Tables for people (rich; colour only on a terminal). `make demo` prints through the same code."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.storage.records import FinalRecord, Outcome
from translation_ops.queries import FileHistory, Status

OUTCOME_STYLES = {
    Outcome.SUCCEEDED: "green",
    Outcome.PARTIALLY_SUCCEEDED: "yellow",
    Outcome.FAILED: "red",
    Outcome.REJECTED: "magenta",
    Outcome.CANCELLED: "dim",
    Outcome.SUPERSEDED: "dim",
    Outcome.REUSED: "green",
}


def console() -> Console:
    # highlight=False: no guessing of colours for numbers and paths; colour only on a terminal.
    # Piped into a file or CI log, rich would wrap at 80 columns: a log line may be wider.
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(highlight=False, soft_wrap=False, width=160)
    return out


def age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def short(text: str | None, limit: int = 90) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def styled(outcome: str) -> str:
    style = OUTCOME_STYLES.get(Outcome(outcome)) if outcome in Outcome._value2member_map_ else None
    return f"[{style}]{outcome}[/{style}]" if style else outcome


# A bulk drop has thousands of files outstanding: a person reads the oldest, a script reads --json.
OUTSTANDING_SHOWN = 50


def trouble_line(name: str, headline: str, trouble: dict[str, str], *, width: int, after: str = "") -> Table:
    """One line for a trouble of the app's own (app_state.py): since when, last tried, why."""
    line = Table(show_header=False, show_edge=False, box=None)
    line.add_column(name)
    line.add_row(
        f"[bold red]{headline}[/bold red] since {trouble['since']} (last tried {trouble['last_attempt']}): "
        f"{short(trouble['reason'], width)}{after}"
    )
    return line


def budget_table(windows: list[dict[str, Any]]) -> Table:
    table = Table(title="Character budget (characters x target languages)", show_edge=False)
    for column in ("window", "spent", "budget", "used", "turns at"):
        table.add_column(column, justify="right" if column in ("spent", "budget", "used") else "left")
    for window in windows:
        used = f"{100 * window['share']:.0f}%"
        if window["share"] >= 1:
            used = f"[bold red]{used}[/bold red]"
        elif window["share"] >= 0.8:
            used = f"[yellow]{used}[/yellow]"
        money = (
            f" ({window['spent_money']:,.2f} of {window['budget_money']:,.2f})"
            if window["spent_money"] is not None
            else ""
        )
        table.add_row(window["window"], f"{window['spent']:,}{money}", f"{window['budget']:,}", used, window["ends_at"])
    table.caption = (
        "spent: charged for recorded files plus estimates of those in flight; files past it wait (BudgetExceeded)"
    )
    return table


def status_tables(status: Status) -> list[Table]:
    counts = Table(title="Files", show_edge=False)
    counts.add_column("state / outcome")
    counts.add_column("files", justify="right")
    for state, count in sorted(status.outstanding_by_state.items()):
        counts.add_row(f"outstanding: {state}", str(count))
    for outcome, count in sorted(status.recorded_by_outcome.items()):
        counts.add_row(f"recorded: {styled(outcome)}", str(count))
    counts.caption = (
        f"characters charged: {status.characters_charged:,}"
        + (
            f" ({status.charged_money:,.2f} at PRICE_PER_MILLION_CHARACTERS)"
            if status.charged_money is not None
            else ""
        )
        + (f"; saved by reuse: {status.characters_saved:,} ({status.reused:,} files)" if status.reused else "")
        + (f" (recorded since {status.recorded_since})" if status.recorded_since else "")
    )
    tables = [counts]
    if status.catch_up_failing:
        tables.append(
            trouble_line(
                "catch-up",
                "catch-up failing",
                status.catch_up_failing,
                width=100,
                after="; files whose event was lost wait for it",
            )
        )
    if status.rules_document:
        tables.append(trouble_line("rules", "rules document cannot be used", status.rules_document, width=200))
    if status.budget:
        tables.append(budget_table(status.budget))
    if status.jobs:
        jobs = Table(title="Jobs (the files that landed together share one)", show_edge=False)
        for column in ("submission", "job", "state", "files", "documents done", "age"):
            jobs.add_column(column, justify="right" if column in ("files", "documents done") else "left")
        for job in status.jobs:
            jobs.add_row(
                job.submission,
                job.job_id or "-",
                job.state + (" [red](attention)[/red]" if job.needs_attention else ""),
                f"{job.files:,}",
                f"{job.documents_done:,}/{job.documents_total:,}",
                age(job.age_seconds),
            )
        done = sum(job.documents_done for job in status.jobs)
        total = sum(job.documents_total for job in status.jobs)
        jobs.caption = f"{len(status.jobs)} jobs: {done:,} of {total:,} documents done"
        tables.append(jobs)
    if status.outstanding:
        outstanding = Table(title="Outstanding", show_edge=False)
        for column in ("file", "state", "age", "job", "its job's progress"):
            outstanding.add_column(column)
        for item in status.outstanding[:OUTSTANDING_SHOWN]:
            progress = f"{item.documents_done}/{item.documents_total}" if item.documents_total else "-"
            if item.job_files > 1:
                progress += f" ({item.job_files:,} files)"
            outstanding.add_row(
                short(item.source_path, 60), item.state, age(item.age_seconds), item.job_id or "-", progress
            )
        hidden = len(status.outstanding) - OUTSTANDING_SHOWN
        if hidden > 0:
            outstanding.caption = (
                f"the {OUTSTANDING_SHOWN} oldest of {len(status.outstanding):,}; --json lists every one, "
                "translation-ops show FILE tells one file's story"
            )
        tables.append(outstanding)
    if status.needs_attention:
        attention = Table(title="[bold red]Needs attention[/bold red]", show_edge=False)
        for column in ("file", "where", "reason"):
            attention.add_column(column)
        for flagged in status.needs_attention:
            attention.add_row(short(flagged.source_path, 60), flagged.where, short(flagged.reason, 100))
        tables.append(attention)
    if status.failure_reasons:
        reasons = Table(title="Not translated, by reason", show_edge=False)
        reasons.add_column("reason code")
        reasons.add_column("files", justify="right")
        for reason, count in sorted(status.failure_reasons.items(), key=lambda item: (-item[1], item[0])):
            reasons.add_row(reason, str(count))
        reasons.caption = "translation-ops show FILE tells one file's story"
        tables.append(reasons)
    return tables


def outcome_table(records: Iterable[FinalRecord], title: str = "Outcomes") -> Table:
    """One row per file and language: what happened, and where the translation is or why not."""
    table = Table(title=title, show_edge=False)
    for column in ("file", "language", "outcome", "translation or reason"):
        table.add_column(column)
    for record in records:
        if not record.language_outcomes:
            reason = f"{record.reason_code}: {record.reason_message}" if record.reason_code else "-"
            table.add_row(record.source_name, ",".join(record.languages) or "-", styled(record.outcome), short(reason))
            continue
        for language in record.language_outcomes:
            if language.error_code:
                detail = f"{language.error_code}: {language.error_message}"
            elif language.published:
                detail = f"{language.language}/{record.source_name}"
            else:
                detail = "not published"
            table.add_row(
                record.source_name, language.language, f"{styled(record.outcome)} / {language.status}", short(detail)
            )
    return table


def history_tables(history: FileHistory) -> list[Table]:
    versions = Table(
        title=f"{history.source_path} (now version {history.current_version or 'deleted'})", show_edge=False
    )
    for column in ("version", "state / outcome", "job", "attempts", "characters", "reason"):
        versions.add_column(column)
    for record in history.recorded:
        versions.add_row(
            record.source_etag,
            styled(record.outcome),
            record.job_id or "-",
            str(record.attempts),
            f"{record.characters_charged:,}",
            short(f"{record.reason_code}: {record.reason_message}" if record.reason_code else None),
        )
    for open_record in history.outstanding:
        versions.add_row(
            open_record.source_etag,
            f"outstanding: {open_record.state}",
            open_record.job_id or (f"submission {open_record.submission}" if open_record.submission else "-"),
            str(open_record.attempts),
            "-",
            short(open_record.attention_reason or open_record.last_error),
        )
    # The newest version's folder rule (outstanding versions are newer than recorded ones).
    newest_rules = [(item.rule, item.rules_version) for item in history.recorded] + [
        (item.rule, item.rules_version) for item in history.outstanding
    ]
    if newest_rules and newest_rules[-1][1] is not None:
        rule, version = newest_rules[-1]
        versions.caption = (
            f"newest version: folder rule {rule or '(none matched: the settings)'} of rules document {version}"
        )
    tables = [versions]
    if history.recorded:
        tables.append(outcome_table(history.recorded[-1:], title="Newest recorded version, per language"))
    if history.translations:
        translations = Table(title="Published translations", show_edge=False)
        translations.add_column("blob")
        translations.add_column("made from version")
        for path, version in history.translations.items():
            translations.add_row(path, version or "?")
        tables.append(translations)
    return tables


def rules_table(rows: list[dict[str, Any]]) -> Table:
    """One row per path (or per rule): the rule it gets and what that gives."""
    table = Table(show_edge=False)
    with_paths = any(row.get("path") for row in rows)
    if with_paths:
        table.add_column("path")
    for column in ("rule", "languages", "glossaries", "category", "source language"):
        table.add_column(column)
    for row in rows:
        glossaries = ", ".join(f"{language}: {name}" for language, name in (row.get("glossaries") or {}).items())
        cells = [
            row.get("rule") or "(no rule: the settings)",
            ",".join(row.get("languages") or []) or "-",
            glossaries or "-",
            row.get("category") or "-",
            row.get("source_language") or "-",
        ]
        table.add_row(*([row["path"]] if with_paths else []), *cells)
    return table
