"""What an operator asks: how things stand, and everything about one file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.pipeline import budget as character_budget
from shared.pipeline.catch_up import LISTING_FAILING
from shared.pipeline.context import PipelineContext
from shared.pipeline.rules import RULES_TROUBLE, RulesError, checked, parse_rules
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY, report_blob_name, target_blob_name
from shared.storage.record_keys import record_key, unquoted_etag
from shared.storage.records import FinalRecord, OpenRecord, Outcome, State
from shared.storage.schedule_table import Submission


@dataclass
class Outstanding:
    """One file not yet recorded: where it stands, with its job's progress (a job is shared by the
    files that landed together: `job_files` of them)."""

    source_path: str
    version: str
    record_key: str
    state: str
    age_seconds: float
    job_id: str | None
    job_status: str | None
    documents_done: int
    documents_total: int
    needs_attention: bool
    attention_reason: str | None
    last_error: str | None
    submission: str | None = None
    job_files: int = 0

    @classmethod
    def of(cls, record: OpenRecord, submission: Submission | None, now: datetime) -> Outstanding:
        state, job_id, status = str(record.state), record.job_id, record.job_status
        done = total = files = 0
        needs_attention, reason = record.needs_attention, record.attention_reason
        if record.state is State.WAITING:
            state = "Waiting" if record.plan else "Waiting (to be planned)"
        elif record.state is State.GROUPED and submission is not None:
            state, job_id, status = str(submission.state), submission.job_id, submission.job_status
            files = len(submission.members)
            total = submission.summary.total or files * len(submission.languages)
            done = submission.summary.done
            if submission.needs_attention and not needs_attention:
                needs_attention, reason = True, submission.attention_reason
        elif record.state is State.FINISHING:
            total = len(record.documents) or len(record.languages)
            done = sum(1 for document in record.documents if document.status != "Running")
        return cls(
            source_path=f"{record.source_container}/{record.source_name}",
            version=record.source_etag,
            record_key=record.key,
            state=state,
            age_seconds=round((now - record.claimed_at).total_seconds(), 1),
            job_id=job_id,
            job_status=status,
            documents_done=done,
            documents_total=total,
            needs_attention=needs_attention,
            attention_reason=reason,
            last_error=record.last_error,
            submission=record.submission,
            job_files=files,
        )


@dataclass
class JobProgress:
    """One submission - the files of one plan sent together - and its job's progress."""

    submission: str
    job_id: str | None
    state: str
    files: int
    languages: list[str]
    documents_done: int
    documents_total: int
    age_seconds: float
    needs_attention: bool
    attention_reason: str | None

    @classmethod
    def of(cls, submission: Submission, now: datetime) -> JobProgress:
        total = submission.summary.total
        return cls(
            submission=submission.id,
            job_id=submission.job_id,
            state=str(submission.state),
            files=len(submission.members),
            languages=list(submission.languages),
            documents_done=submission.summary.done,
            documents_total=total or len(submission.members) * len(submission.languages),
            age_seconds=round((now - submission.created_at).total_seconds(), 1),
            needs_attention=submission.needs_attention,
            attention_reason=submission.attention_reason,
        )


@dataclass
class Attention:
    source_path: str
    record_key: str
    where: str  # "outstanding" or "recorded"
    reason: str


@dataclass
class Status:
    outstanding_by_state: dict[str, int]
    recorded_by_outcome: dict[str, int]
    recorded_since: str | None
    outstanding: list[Outstanding]
    needs_attention: list[Attention]
    jobs: list[JobProgress] = field(default_factory=list)
    oldest_outstanding_seconds: float = 0.0
    characters_charged: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    reused: int = 0  # files recorded Reused: copies of translations of the same bytes, no job
    characters_saved: int = 0  # what translating them again would have been charged
    # While the catch-up cannot list the source container: since, last_attempt, reason.
    catch_up_failing: dict[str, str] | None = None
    # While the rules document (RULES_BLOB) cannot be used: since, last_attempt, reason.
    rules_document: dict[str, str] | None = None
    # With a character budget set: one per window (window, budget, spent, left, share, and money
    # with PRICE_PER_MILLION_CHARACTERS); empty without one.
    budget: list[dict[str, Any]] = field(default_factory=list)
    # With PRICE_PER_MILLION_CHARACTERS: `characters_charged` as money.
    charged_money: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def budget_spend(ctx: PipelineContext) -> list[dict[str, Any]]:
    """Spend against the character budget, window by window (shared/pipeline/budget.py)."""
    if not ctx.settings.budget_set:
        return []
    rows = []
    for item in character_budget.spend(ctx.spend, ctx.settings, ctx.now()):
        rows.append(
            {
                "window": item.window.name,
                "budget": item.window.budget,
                "spent": item.spent,
                "left": item.left,
                "share": round(item.share, 4),
                "ends_at": item.window.ends_at.isoformat(),
                "spent_money": character_budget.money(ctx.settings, item.spent),
                "budget_money": character_budget.money(ctx.settings, item.window.budget),
            }
        )
    return rows


def catch_up_failing(ctx: PipelineContext) -> dict[str, str] | None:
    return trouble_of(ctx, LISTING_FAILING)


def trouble_of(ctx: PipelineContext, name: str) -> dict[str, str] | None:
    trouble = ctx.records.state.get_trouble(name)
    if trouble is None:
        return None
    return {
        "since": trouble.since.isoformat(),
        "last_attempt": trouble.last_attempt.isoformat(),
        "reason": trouble.reason,
    }


def status(ctx: PipelineContext, *, since: timedelta | None = None) -> Status:
    now = ctx.now()
    open_records = list(ctx.records.outstanding())
    submissions = {submission.id: submission for submission in ctx.schedule.submissions()}
    finals = list(ctx.records.finals(since=now - since if since else None))
    outstanding = sorted(
        (Outstanding.of(record, submissions.get(record.submission or ""), now) for record in open_records),
        key=lambda item: -item.age_seconds,
    )
    attention = [
        Attention(item.source_path, item.record_key, "outstanding", item.attention_reason or "")
        for item in outstanding
        if item.needs_attention
    ] + [
        Attention(
            f"{record.source_container}/{record.source_name}", record.key, "recorded", record.attention_reason or ""
        )
        for record in finals
        if record.needs_attention
    ]
    return Status(
        outstanding_by_state=dict(Counter(item.state for item in outstanding)),
        recorded_by_outcome=dict(Counter(str(record.outcome) for record in finals)),
        recorded_since=(now - since).isoformat() if since else None,
        outstanding=outstanding,
        needs_attention=attention,
        jobs=sorted((JobProgress.of(item, now) for item in submissions.values()), key=lambda job: -job.age_seconds),
        oldest_outstanding_seconds=max((item.age_seconds for item in outstanding), default=0.0),
        characters_charged=sum(record.characters_charged for record in finals),
        failure_reasons=dict(
            Counter(
                record.reason_code or "-"
                for record in finals
                if record.outcome not in (Outcome.SUCCEEDED, Outcome.SUPERSEDED, Outcome.REUSED)
            )
        ),
        reused=sum(1 for record in finals if record.outcome is Outcome.REUSED),
        characters_saved=sum(record.characters_saved for record in finals),
        catch_up_failing=catch_up_failing(ctx),
        rules_document=trouble_of(ctx, RULES_TROUBLE),
        budget=budget_spend(ctx),
        charged_money=character_budget.money(ctx.settings, sum(record.characters_charged for record in finals)),
    )


@dataclass
class FileHistory:
    source_path: str
    current_version: str | None  # the blob's ETag now (None: deleted)
    outstanding: list[OpenRecord]
    recorded: list[FinalRecord]  # oldest first
    report: dict[str, Any] | None  # the newest version's report
    translations: dict[str, str | None]  # `<container>/<lang>/<name>` -> the version it was made from

    @property
    def found(self) -> bool:
        """The file exists, or did: it has a record."""
        return self.current_version is not None or bool(self.outstanding or self.recorded)

    def to_json(self) -> dict[str, Any]:
        # One shape whether or not the file is known: a script reads `found`, never a missing key.
        return {
            "found": self.found,
            "source_path": self.source_path,
            "current_version": self.current_version,
            "outstanding": [asdict(record) for record in self.outstanding],
            "recorded": [record.to_json() for record in self.recorded],
            "translations": self.translations,
            "report": self.report,
        }


def resolve_path(ctx: PipelineContext, source_path: str) -> tuple[str, str]:
    """`source/a/b.txt` or `a/b.txt` (in the source container) -> (container, name)."""
    container = ctx.settings.source_container
    prefix = f"{container}/"
    return container, source_path[len(prefix) :] if source_path.startswith(prefix) else source_path


def current_key(ctx: PipelineContext, container: str, name: str) -> tuple[str | None, str | None]:
    """(ETag, record key) of the blob as it is now; (None, None) when it does not exist."""
    try:
        properties = ctx.storage.container(container).get_blob_client(name).get_blob_properties()
    except ResourceNotFoundError:
        return None, None
    etag = unquoted_etag(properties.etag)
    return etag, record_key(container, name, etag)


def show(ctx: PipelineContext, source_path: str) -> FileHistory:
    container, name = resolve_path(ctx, source_path)
    etag, _ = current_key(ctx, container, name)
    outstanding = ctx.records.open_versions(container, name)
    recorded = ctx.records.final_versions(container, name)
    report = _latest_report(ctx, container, name, recorded)
    translations: dict[str, str | None] = {}
    target = ctx.storage.container(ctx.settings.target_container)
    languages = sorted({language for record in recorded for language in record.languages})
    for language in languages:
        blob = target.get_blob_client(target_blob_name(language, name))
        try:
            metadata = blob.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            continue
        translations[f"{ctx.settings.target_container}/{blob.blob_name}"] = metadata.get(TRANSLATED_FROM_METADATA_KEY)
    return FileHistory(f"{container}/{name}", etag, outstanding, recorded, report, translations)


def _latest_report(ctx: PipelineContext, container: str, name: str, recorded: list[FinalRecord]) -> Any:
    """The file's report: where its latest final record says it was written (the reports container
    may have been another one then), else where this release writes it; None when there is none."""
    here = f"{ctx.settings.reports_container}/{report_blob_name(container, name)}"
    places = ([recorded[-1].report_blob] if recorded and recorded[-1].report_blob else []) + [here]
    for place in dict.fromkeys(places):
        reports_container, _, blob = place.partition("/")
        try:
            return json.loads(ctx.storage.container(reports_container).download_blob(blob).readall())
        except ResourceNotFoundError:
            continue
    return None


def open_states() -> list[str]:
    return [state.value for state in State]


@dataclass
class StoredRules:
    """The rules document RULES_BLOB names, as stored, and whether the app can use it."""

    rules_blob: str | None
    version: str | None
    rules: list[dict[str, Any]]
    problem: str | None = None  # why the app cannot use it (it keeps its last good rules meanwhile)
    flagged: dict[str, str] | None = None  # the app's own flag on it: since, last_attempt, reason

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stored_rules(ctx: PipelineContext, *, check_languages: bool = False) -> StoredRules:
    """`check_languages`: the service is asked which languages it translates (else the syntax only)."""
    flagged = trouble_of(ctx, RULES_TROUBLE)
    stored = ctx.read_rules_blob() if ctx.settings.rules_blob else None
    if stored is None:
        return StoredRules(ctx.settings.rules_blob, None, [], flagged=flagged)
    try:
        document = parse_rules(stored.text, version=stored.version)
        if check_languages:
            document = checked(document, ctx.languages.get())
    except RulesError as exc:
        return StoredRules(ctx.settings.rules_blob, stored.version, [], problem=str(exc), flagged=flagged)
    return StoredRules(
        ctx.settings.rules_blob, stored.version, [rule.to_json() for rule in document.rules], flagged=flagged
    )
