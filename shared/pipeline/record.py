"""Record outcome: the one writer of final records and reports.

The poller hands over a record whose outcome is decided (its job is final, or there is no job and
the record says why). This step reads the job's documents, publishes the translations (newest
version wins, see publish.py), writes the report, then the final record, and removes the open one.
Safe to run twice on the same message: every write is idempotent or conditional, and a message
whose record is already final is acknowledged without doing anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from shared.pipeline import budget, lifecycle, outcome_events, publish, reuse
from shared.pipeline.context import PipelineContext
from shared.storage.attention import CLEARED, kept
from shared.storage.blob_names import report_blob_name, staging_blob_name, staging_prefix, target_blob_name
from shared.storage.records import (
    AttemptCharge,
    DocumentResult,
    FinalRecord,
    LanguageOutcome,
    OpenRecord,
    Outcome,
    ReasonCode,
    State,
)
from shared.storage.results_queue import ResultMessage
from shared.telemetry import Event, file_fields, metrics
from shared.text import cut
from shared.translator import Status

logger = logging.getLogger(__name__)


class RecordNotFound(LookupError):
    """A results message for a record that is neither open nor final."""


@dataclass
class DocumentDetail:
    """One translated document, as the report shows it."""

    language: str
    status: str
    path: str | None  # where the translation is (published name, or staging name when it stays there)
    published: bool = False
    document_id: str | None = None
    characters_charged: int = 0
    error_code: str | None = None
    error_message: str | None = None
    note: str | None = None
    glossary: str | None = None  # the glossary blob applied for this language


def record_outcome(message_text: str, ctx: PipelineContext) -> FinalRecord | None:
    message = ResultMessage.from_text(message_text)
    record = ctx.records.get_open(message.key)
    if record is None:
        if ctx.records.get_final(message.key) is not None:
            logger.info(
                "%s (%s) is already recorded; repeated message acknowledged",
                message.source_name,
                message.key,
                extra={"event": Event.RECORDED.value, "record_key": message.key},
            )
            # The message may be back because its outcome event was not sent yet: it is sent now.
            outcome_events.send_owed_for(ctx, message.key)
            return None
        raise RecordNotFound(f"no record {message.key} for {message.source_name!r}")
    if record.state != State.FINISHING:
        logger.warning(
            "%s (%s) is %s, not ready to be recorded; message acknowledged",
            record.source_name,
            record.key,
            record.state,
            extra=file_fields(record, event=Event.FINISHING),
        )
        return None

    documents = _documents(ctx, record)
    outcome, reason_code, reason_message = decide_outcome(record, documents)
    keep: set[str] = set()
    if outcome is Outcome.REUSED and record.reuse:
        try:
            documents = [_publish_reused(ctx, record, document) for document in documents]
        except publish.ReuseUnavailable as exc:
            _forget_reuse(ctx, record)
            lifecycle.reuse_unavailable(ctx, record, str(exc))
            return None
    elif outcome in (Outcome.SUCCEEDED, Outcome.PARTIALLY_SUCCEEDED) or _cancelled_at_the_service(record):
        # A job cancelled at the service still finished (and billed) some documents: they are published.
        documents = [_publish(ctx, record, document, keep) for document in documents]
        outcome, reason_code, reason_message = decide_outcome(record, documents)
    elif record.cancelled_by is not None:
        documents = [_keep(ctx, record, document) for document in documents]
        outcome, reason_code, reason_message = decide_outcome(record, documents)
    # A version submitted again keeps what its earlier attempts were billed.
    earlier = ctx.records.get_final(record.key) if record.attempts > 1 else None
    final = _final_record(ctx, record, documents, outcome, reason_code, reason_message, earlier)
    if final.reason_code != ReasonCode.SAME_CONTENT_IN_FLIGHT:
        # (The version whose translations this one shares writes the file's report when it ends.)
        body = report_body(final, documents)
        if ctx.settings.price_per_million_characters is not None:
            body["charged_money"] = budget.money(ctx.settings, final.characters_charged)
        publish.write_report(ctx, record, body)
    _keep_for_reuse(ctx, record, final, documents)
    lifecycle.finalise(ctx, record, final)
    if ctx.settings.budget_set and record.budget_windows:
        # What the service charged replaces the estimate counted when the job was submitted.
        budget.settle(
            ctx.spend,
            record.budget_windows,
            record.key,
            final.charges[-1].characters_charged,
            record.estimated_characters or 0,
        )
    # Published translations left their staging names already; look for leftovers only where some
    # can be: earlier attempts, and translations that were not published (superseded, blocked, forgotten).
    leftovers = record.attempts > 1 or any(
        document.status == Status.SUCCEEDED and not document.published for document in documents
    )
    if leftovers:
        for attempt in range(1, record.attempts + 1):
            publish.delete_staging(ctx, staging_prefix(record.key, attempt), keep)

    seconds = (final.finished_at - record.claimed_at).total_seconds()
    logger.info(
        "recorded %s (version %s): %s, %d/%d documents translated, %d characters charged",
        record.source_name,
        record.source_etag,
        final.outcome,
        final.succeeded,
        final.total,
        final.characters_charged,
        extra=file_fields(
            record,
            event=Event.RECORDED,
            outcome=final.outcome,
            reason_code=final.reason_code,
            characters_charged=final.characters_charged,
            drop_to_record_seconds=round(seconds, 3),
        ),
    )
    metrics.count("translation.files.recorded", outcome=final.outcome, reason_code=final.reason_code)
    metrics.count("translation.characters.charged", final.characters_charged, unit="characters")
    metrics.record("translation.drop_to_record.seconds", seconds, unit="s")
    for document in documents:
        metrics.count("translation.documents", status=document.status, reason_code=document.error_code)
    return final


@dataclass(frozen=True)
class _Evidence:
    """What the record step knows when it decides a version's outcome from its job."""

    record: OpenRecord
    documents: list[DocumentDetail]
    reason_code: str | None  # the job's error code, else the first failed document's (None: neither)
    reason_message: str | None

    @property
    def succeeded(self) -> int:
        return sum(1 for document in self.documents if document.status == Status.SUCCEEDED)


@dataclass(frozen=True)
class _Rule:
    """One row of the outcome table: when it applies, the outcome, and its reason. `code` stands in
    when the job names none; a rule that `overrides` gives its own reason whatever the job said."""

    applies: Callable[[_Evidence], bool]
    outcome: Outcome
    code: ReasonCode | None
    message: Callable[[_Evidence], str | None]
    overrides: bool = False


# First match wins. A version decided without a job (rejected, refused, reused) carries its outcome.
_OUTCOMES = (
    _Rule(
        lambda e: e.record.superseded_by is not None,
        Outcome.SUPERSEDED,
        ReasonCode.NEWER_VERSION,
        lambda e: _superseded_message(e.record),
        overrides=True,
    ),
    _Rule(
        lambda e: e.record.cancelled_by is not None,
        Outcome.CANCELLED,
        ReasonCode.CANCELLED_BY_OPERATOR,
        lambda e: _operator_cancel_message(e.record, e.documents),
        overrides=True,
    ),
    _Rule(
        lambda e: e.record.job_status == Status.CANCELLED,
        Outcome.CANCELLED,
        ReasonCode.CANCELLED,
        lambda e: _service_cancel_message(e.reason_message, e.documents),
    ),
    _Rule(
        lambda e: e.record.job_status == Status.VALIDATION_FAILED,
        Outcome.FAILED,
        ReasonCode.VALIDATION_FAILED,
        lambda e: e.reason_message or "the job failed validation",
    ),
    _Rule(
        lambda e: e.succeeded == 0,
        Outcome.FAILED,
        ReasonCode.NO_DOCUMENT_TRANSLATED,
        lambda e: e.reason_message or "no document was translated",
    ),
    _Rule(
        lambda e: e.succeeded < max(len(e.documents), len(e.record.languages)),
        Outcome.PARTIALLY_SUCCEEDED,
        None,
        lambda e: e.reason_message,
    ),
    _Rule(lambda e: True, Outcome.SUCCEEDED, None, lambda e: None, overrides=True),
)


def decide_outcome(record: OpenRecord, documents: list[DocumentDetail]) -> tuple[Outcome, str | None, str | None]:
    """The version's outcome and the reason an operator reads first, from its job and its own
    documents (the table `_OUTCOMES`)."""
    if record.outcome is not None:
        return record.outcome, record.reason_code, record.reason_message
    evidence = _Evidence(record, documents, *_job_reason(record, documents))
    rule = next(rule for rule in _OUTCOMES if rule.applies(evidence))
    if rule.overrides:
        return rule.outcome, rule.code, rule.message(evidence)
    return rule.outcome, evidence.reason_code or rule.code, rule.message(evidence)


def _job_reason(record: OpenRecord, documents: list[DocumentDetail]) -> tuple[str | None, str | None]:
    """The code and message the job or its first failed document gave; a lost job that left no
    failed document says so."""
    failed = next((document for document in documents if document.error_code), None)
    if record.job_lost and failed is None:
        return ReasonCode.JOB_NOT_FOUND, f"the service no longer knows job {record.job_id}"
    return (
        record.job_error_code or (failed.error_code if failed else None),
        record.job_error_message or (failed.error_message if failed else None),
    )


def _operator_cancel_message(record: OpenRecord, documents: list[DocumentDetail]) -> str:
    kept = [document for document in documents if document.status == Status.SUCCEEDED]
    return f"cancelled by {record.cancelled_by}; nothing was published" + (
        f"; {len(kept)} translation(s) finished before the cancel (billed) are kept unpublished: "
        + ", ".join(str(document.path) for document in kept)
        if kept
        else ""
    )


def _service_cancel_message(reason_message: str | None, documents: list[DocumentDetail]) -> str:
    published = sum(1 for document in documents if document.published)
    return (reason_message or "the job was cancelled") + (
        f"; {published} translation(s) finished before the cancel (billed) and were published" if published else ""
    )


def _superseded_message(record: OpenRecord) -> str:
    """What became of the job of a version that a newer one replaced: a job shared with other files
    goes on for them and may well succeed; only a job every file left is cancelled."""
    if record.job_id is None:
        job = "it had no job yet"
    elif record.job_status == Status.CANCELLED:
        job = f"its job {record.job_id} was cancelled, every file in it having left"
    elif record.job_status is not None:
        job = f"its job {record.job_id} ended {record.job_status}"
    else:
        job = f"its job {record.job_id} went on for the other files in it"
    return f"a newer version of the file arrived while this one was in flight ({job}); nothing of it was published"


def _documents(ctx: PipelineContext, record: OpenRecord) -> list[DocumentDetail]:
    if record.outcome is Outcome.REUSED:
        target = ctx.settings.target_container
        return [
            DocumentDetail(language, Status.SUCCEEDED, f"{target}/{name}", note="reused: a copy, nothing charged")
            for language, name in sorted(record.reuse.items())
        ]
    if record.outcome is not None or record.job_id is None:
        return []
    if not record.job_lost:
        return sorted((_detail(document) for document in record.documents), key=lambda detail: detail.language)
    # The service no longer knows the job: what it wrote is all there is to go on.
    details = []
    for language in record.languages:
        staging = staging_blob_name(record.key, record.attempts, language, record.source_name)
        if publish.staging_exists(ctx, staging):
            details.append(
                DocumentDetail(
                    language, Status.SUCCEEDED, staging, note="the service no longer knows the job; its output was"
                )
            )
        else:
            details.append(
                DocumentDetail(
                    language,
                    Status.FAILED,
                    None,
                    error_code=ReasonCode.JOB_NOT_FOUND,
                    error_message=f"the service no longer knows job {record.job_id} and wrote no {language} "
                    "translation",
                )
            )
    return details


def _detail(document: DocumentResult) -> DocumentDetail:
    return DocumentDetail(
        language=document.language,
        status=document.status,
        path=document.path,
        document_id=document.document_id,
        characters_charged=document.characters_charged,
        error_code=document.error_code,
        error_message=document.error_message,
    )


def _publish(ctx: PipelineContext, record: OpenRecord, document: DocumentDetail, keep: set[str]) -> DocumentDetail:
    if document.status != Status.SUCCEEDED:
        return document
    staging = staging_blob_name(record.key, record.attempts, document.language, record.source_name)
    publication = publish.publish_translation(ctx, record, document.language, staging)
    path = f"{ctx.settings.target_container}/{publication.path}"
    if publication.error_code is not None:
        keep.add(staging)
        return replace(
            document,
            status=Status.FAILED,
            path=path,
            error_code=publication.error_code,
            error_message=publication.error_message,
        )
    return replace(document, path=path, published=publication.published, note=publication.note)


def _publish_reused(ctx: PipelineContext, record: OpenRecord, document: DocumentDetail) -> DocumentDetail:
    publication = publish.publish_reused(ctx, record, document.language, record.reuse[document.language])
    return replace(
        document,
        path=f"{ctx.settings.target_container}/{publication.path}",
        published=publication.published,
        note=publication.note or document.note,
    )


def _forget_reuse(ctx: PipelineContext, record: OpenRecord) -> None:
    if record.plan is None or record.content_hash is None:
        return
    if record.reused_from is not None:
        ctx.records.forget_reuse(record.plan, record.content_hash, record.reused_from)


def _keep_for_reuse(
    ctx: PipelineContext, record: OpenRecord, final: FinalRecord, documents: list[DocumentDetail]
) -> None:
    """A version whose every translation was published is what the next drop of its bytes reuses."""
    if not ctx.settings.reuse_translations or final.outcome not in (Outcome.SUCCEEDED, Outcome.REUSED):
        return
    if not documents or not all(document.published for document in documents):
        return
    characters = final.characters_saved if final.outcome is Outcome.REUSED else final.charges[-1].characters_charged
    entry = reuse.entry_for(
        record,
        {document.language: target_blob_name(document.language, record.source_name) for document in documents},
        characters,
    )
    if entry is not None:
        ctx.records.put_reuse(entry)


def _cancelled_at_the_service(record: OpenRecord) -> bool:
    """Cancelled by someone else than this app's operator tool (the portal, a script)."""
    return record.outcome is None and not record.withdrawn and record.job_status == Status.CANCELLED


def _keep(ctx: PipelineContext, record: OpenRecord, document: DocumentDetail) -> DocumentDetail:
    if document.status != Status.SUCCEEDED:
        return document
    staging = staging_blob_name(record.key, record.attempts, document.language, record.source_name)
    kept = publish.keep_translation(ctx, record, document.language, staging)
    return replace(
        document,
        path=f"{ctx.settings.target_container}/{kept}",
        note="finished before its file was cancelled (billed); kept here, not published",
    )


def _final_record(
    ctx: PipelineContext,
    record: OpenRecord,
    documents: list[DocumentDetail],
    outcome: Outcome,
    reason_code: str | None,
    reason_message: str | None,
    earlier: FinalRecord | None = None,
) -> FinalRecord:
    # The try recorded is the version's latest (tries are numbered from 1; one refused before any was tried once).
    attempt = max(record.attempts, 1)
    charges = [
        *earlier_charges(earlier, before=attempt),
        AttemptCharge(attempt, sum(document.characters_charged for document in documents), record.job_id, outcome),
    ]
    ended_well = outcome in (Outcome.SUCCEEDED, Outcome.REJECTED, Outcome.SUPERSEDED, Outcome.REUSED)
    return FinalRecord(
        key=record.key,
        source_container=record.source_container,
        source_name=record.source_name,
        source_etag=record.source_etag,
        source_modified=record.source_modified,
        outcome=outcome,
        languages=list(record.languages),
        job_id=record.job_id,
        job_status=record.job_status,
        reason_code=reason_code,
        reason_message=cut(reason_message),
        characters_charged=sum(charge.characters_charged for charge in charges),
        language_outcomes=[
            LanguageOutcome(
                language=document.language,
                status=document.status,
                characters_charged=document.characters_charged,
                error_code=document.error_code,
                error_message=cut(document.error_message, 500),
                published=document.published,
                glossary=record.glossaries.get(document.language),
            )
            for document in documents
        ],
        report_blob=f"{ctx.settings.reports_container}/{report_blob_name(record.source_container, record.source_name)}",
        claimed_at=record.claimed_at,
        submitted_at=record.submitted_at,
        finished_at=ctx.now(),
        attempts=attempt,
        # A flag whose cause passed (credentials fixed, a slow job that finished) ends with the file.
        **(CLEARED if ended_well else kept(record)),
        superseded_by=record.superseded_by,
        submission=record.submission,
        glossaries=dict(record.glossaries),
        glossary_notes=dict(record.glossary_notes),
        charges=charges,
        content_hash=record.content_hash,
        estimated_characters=record.estimated_characters,
        estimate_method=record.estimate_method,
        reused_from=record.reused_from,
        reused_etag=record.reused_etag,
        characters_saved=record.characters_saved,
        rule=record.rule,
        rules_version=record.rules_version,
    )


def earlier_charges(earlier: FinalRecord | None, *, before: int) -> list[AttemptCharge]:
    """The charges of a version's attempts before `before` (a record written before charges were
    itemised counts as one attempt, its last). Recording an attempt twice keeps one entry for it."""
    if earlier is None:
        return []
    charges = earlier.charges or [
        AttemptCharge(earlier.attempts, earlier.characters_charged, earlier.job_id, earlier.outcome)
    ]
    return [charge for charge in charges if charge.attempt < before]


def report_body(final: FinalRecord, documents: list[DocumentDetail]) -> dict[str, Any]:
    body = final.to_json()
    del body["language_outcomes"]  # the documents below say the same, and more
    for name, value in body.items():
        if isinstance(value, datetime):
            body[name] = value.isoformat()
    body["documents"] = [
        asdict(replace(document, glossary=document.glossary or final.glossaries.get(document.language)))
        for document in documents
    ]
    return body
