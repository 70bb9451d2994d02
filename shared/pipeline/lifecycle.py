"""A record's lifecycle: every change of an open record, as named transitions.

    claim ──► Submitting ──submitted──► Submitted ──observe (poll)──┐
                │  ▲  │                    │    ▲                    │
                │  │  └─uncertain─► Uncertain ─adopt─┘               │
                │  └──begin_attempt── Waiting ◄─wait─┘ (no job exists; due again later)
                └─reject / fail_without_job / finish_superseded ──► Finishing ◄──finish── Submitted
                                                                       │
                                          requeue (hand-over lost) ◄───┤ finalise (record step)
                                                                       ▼
                                                         final record (partition `final`)

Every transition is one ETag-guarded write of the open record; it returns the updated record, or
None when another invocation changed the record first (that invocation owns what happens next).
A transition into Finishing also hands the record to the results queue, after the write: if the
process dies in between, the poller hands it over again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from shared.pipeline.checks import Rejection
from shared.pipeline.context import PipelineContext
from shared.redaction import redact
from shared.storage import results_queue
from shared.storage.record_table import FinalRecord, OpenRecord, Outcome, State, cut, record_key
from shared.telemetry import Event, file_fields, metrics
from shared.translator import JobStatus

logger = logging.getLogger(__name__)

# When to look at a job again, by its age: early checks are frequent (most jobs of one file
# finish in seconds), later ones spread out to at most one a minute.
FIRST_CHECK_AFTER = timedelta(seconds=2)
CHECK_INTERVAL_SHARE_OF_AGE = 0.05
MIN_CHECK_INTERVAL = timedelta(seconds=1)
MAX_CHECK_INTERVAL = timedelta(seconds=60)
# Waiting records (no job exists) are tried again after these delays, then every last one.
WAITING_BACKOFF = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=60), timedelta(minutes=5))
# An uncertain attempt is looked for again this soon (the service may take a moment to list a job).
UNCERTAIN_RECHECK = timedelta(seconds=3)


@dataclass(frozen=True)
class SourceVersion:
    """One version of a dropped blob, as its properties describe it."""

    container: str
    name: str
    etag: str
    modified: datetime | None
    size: int

    @property
    def key(self) -> str:
        return record_key(self.container, self.name, self.etag)


def check_interval(age: timedelta) -> timedelta:
    return max(MIN_CHECK_INTERVAL, min(MAX_CHECK_INTERVAL, age * CHECK_INTERVAL_SHARE_OF_AGE))


def waiting_backoff(ctx: PipelineContext, attempt: int) -> timedelta:
    delay = WAITING_BACKOFF[min(attempt, len(WAITING_BACKOFF)) - 1]
    # Never wait longer between tries than a submission is given to resolve (tests shorten it).
    return min(delay, max(WAITING_BACKOFF[0], timedelta(seconds=ctx.settings.submit_reconcile_after_seconds)))


def resubmit_due(ctx: PipelineContext, record: OpenRecord) -> datetime:
    """When an attempt with no job on record may be made again: after it can no longer create one."""
    started = record.attempt_started_at or record.intent_at
    return started + timedelta(seconds=ctx.settings.submit_reconcile_after_seconds)


# --- before the service is called ---------------------------------------------------------


def claim(ctx: PipelineContext, source: SourceVersion) -> OpenRecord | None:
    """Insert the open record of a source version; None when it is already claimed (a duplicate event)."""
    now = ctx.now()
    record = OpenRecord.new(
        source.container,
        source.name,
        source.etag,
        modified=source.modified,
        size=source.size,
        state=State.SUBMITTING,
        at=now,
        attempt=1,
        attempt_started_at=now,
    )
    record.next_check_at = resubmit_due(ctx, record)
    claimed = ctx.records.claim(record)
    if claimed is not None:
        logger.info(
            "claimed %s (version %s) as record %s",
            source.name,
            source.etag,
            source.key,
            extra=file_fields(claimed, event=Event.CLAIMED),
        )
    return claimed


def begin_attempt(ctx: PipelineContext, record: OpenRecord) -> OpenRecord | None:
    """Take a record over to submit it again (ETag-guarded: only one poller does)."""
    now = ctx.now()
    attempt = replace(
        record,
        state=State.SUBMITTING,
        attempt=record.attempt + 1,
        attempt_started_at=now,
        attempt_ended_at=None,
        job_id=None,
    )
    attempt.next_check_at = resubmit_due(ctx, attempt)
    return ctx.records.update(attempt)


def wait(
    ctx: PipelineContext, record: OpenRecord, error: BaseException | str, *, attention: str | None = None
) -> OpenRecord | None:
    """No job exists for this attempt (the call was refused or never reached the service): try again
    when due. `attention` flags a cause outside the file that an operator must fix (credentials)."""
    now = ctx.now()
    cause = cut(redact(str(error)))
    waiting = replace(
        record,
        state=State.WAITING,
        attempt_ended_at=now,
        last_error=cause,
        next_check_at=now + waiting_backoff(ctx, record.attempt),
        needs_attention=record.needs_attention or attention is not None,
        attention_reason=cut(redact(attention)) if attention else record.attention_reason,
    )
    updated = ctx.records.update(waiting)
    if updated is not None:
        level = logging.ERROR if attention else logging.WARNING
        logger.log(
            level,
            "%s (version %s) could not be submitted (%s); trying again at %s%s",
            record.source_name,
            record.source_etag,
            cause,
            waiting.next_check_at.isoformat() if waiting.next_check_at else "-",
            f": {attention}" if attention else "",
            extra=file_fields(updated, event=Event.NEEDS_ATTENTION if attention else Event.WAITING),
        )
    return updated


def submitted(
    ctx: PipelineContext, record: OpenRecord, job_id: str, *, languages: list[str], glossaries: dict[str, str]
) -> OpenRecord | None:
    now = ctx.now()
    updated = ctx.records.update(
        replace(
            record,
            state=State.SUBMITTED,
            job_id=job_id,
            languages=languages,
            glossaries=glossaries,
            submitted_at=now,
            attempt_ended_at=now,
            next_check_at=now + FIRST_CHECK_AFTER,
            last_error=None,
            # Whatever kept it from being submitted (refused credentials, say) has passed.
            needs_attention=False,
            attention_reason=None,
        )
    )
    if updated is not None:
        logger.info(
            "submitted %s (version %s) as job %s: %s",
            record.source_name,
            record.source_etag,
            job_id,
            ", ".join(languages),
            extra=file_fields(updated, event=Event.SUBMITTED),
        )
        metrics.count("translation.files.submitted", description="Source versions submitted to the service")
    return updated


def uncertain(
    ctx: PipelineContext, record: OpenRecord, error: BaseException, *, languages: list[str], glossaries: dict[str, str]
) -> OpenRecord | None:
    """The start call's answer was lost: a job may exist. The poller looks for it before anything
    is submitted again."""
    now = ctx.now()
    cause = cut(redact(str(error)))
    updated = ctx.records.update(
        replace(
            record,
            state=State.UNCERTAIN,
            languages=languages,
            glossaries=glossaries,
            attempt_ended_at=now,
            last_error=cause,
            next_check_at=now + UNCERTAIN_RECHECK,
        )
    )
    if updated is not None:
        logger.warning(
            "submission of %s (version %s) is uncertain (%s); the poller will look for its job",
            record.source_name,
            record.source_etag,
            cause,
            extra=file_fields(updated, event=Event.UNCERTAIN),
        )
    return updated


def adopt(ctx: PipelineContext, record: OpenRecord, job_id: str) -> OpenRecord | None:
    """The service has the job an uncertain (or interrupted) attempt created: follow it."""
    now = ctx.now()
    updated = ctx.records.update(
        replace(
            record,
            state=State.SUBMITTED,
            job_id=job_id,
            submitted_at=now,
            next_check_at=now,
            last_error=None,
        )
    )
    if updated is not None:
        logger.info(
            "found job %s for %s (version %s, attempt %d) at the service; following it",
            job_id,
            record.source_name,
            record.source_etag,
            record.attempt,
            extra=file_fields(updated, event=Event.SUBMITTED),
        )
    return updated


def postpone(ctx: PipelineContext, record: OpenRecord, until: datetime) -> OpenRecord | None:
    """Nothing to do yet (an uncertain attempt's job is not listed yet): look again at `until`."""
    return ctx.records.update(replace(record, next_check_at=until))


# --- while the service works --------------------------------------------------------------


def observed(record: OpenRecord, status: JobStatus, now: datetime, *, stuck: str | None = None) -> OpenRecord:
    """The record after a look at its job that did not find it final (written in batches by the
    poller); `stuck` flags a job running for longer than it should, saying how long."""
    age = now - (record.submitted_at or record.intent_at)
    updated = replace(
        record,
        service_status=str(status.status),
        summary=asdict(status.summary),
        last_polled_at=now,
        next_check_at=now + check_interval(age),
    )
    if stuck is not None and not record.needs_attention:
        updated.needs_attention, updated.attention_reason = True, stuck
        logger.error(
            "%s (version %s) needs attention: %s",
            record.source_name,
            record.source_etag,
            stuck,
            extra=file_fields(record, event=Event.NEEDS_ATTENTION, reason_code="StuckJob"),
        )
    return updated


def flag(ctx: PipelineContext, record: OpenRecord, reason: str) -> OpenRecord | None:
    """Mark a record as needing an operator's attention (it keeps its state)."""
    if record.needs_attention and record.attention_reason == reason:
        return record
    updated = ctx.records.update(replace(record, needs_attention=True, attention_reason=cut(redact(reason))))
    if updated is not None:
        logger.error(
            "%s (version %s) needs attention: %s",
            record.source_name,
            record.source_etag,
            reason,
            extra=file_fields(updated, event=Event.NEEDS_ATTENTION, reason_code="NeedsAttention"),
        )
    return updated


def supersede(ctx: PipelineContext, record: OpenRecord, newer: OpenRecord) -> OpenRecord | None:
    """A newer version of the same file arrived: this one will not be published."""
    updated = ctx.records.update(replace(record, superseded_by=newer.key))
    if updated is not None:
        logger.info(
            "%s: version %s supersedes version %s, which will not be published",
            record.source_name,
            newer.source_etag,
            record.source_etag,
            extra=file_fields(updated, event=Event.SUPERSEDED),
        )
    return updated


# --- into Finishing: the outcome is decided -------------------------------------------------


class Decision(TypedDict, total=False):
    """How a record's outcome was decided: the job is final (`status`), or there is no job and
    `outcome`, `code` and `message` say why."""

    status: JobStatus | None
    outcome: Outcome | None
    code: str | None
    message: str | None


def finishing(record: OpenRecord, now: datetime, **decision: Unpack[Decision]) -> OpenRecord:
    """The record once its outcome is decided. Written by `finish` or `finish_all`."""
    status, message = decision.get("status"), decision.get("message")
    decided = replace(
        record,
        state=State.FINISHING,
        outcome=decision.get("outcome"),
        reason_code=decision.get("code"),
        reason_message=cut(redact(message)) if message else None,
        last_polled_at=now,
        enqueued_at=now,
        next_check_at=None,
    )
    if status is not None:
        decided.service_status = str(status.status)
        decided.summary = asdict(status.summary)
        if status.error is not None:
            decided.job_error_code = status.error.inner_code or status.error.code
            decided.job_error_message = cut(redact(status.error.inner_message or status.error.message))
    return decided


def finish(ctx: PipelineContext, record: OpenRecord, **decision: Unpack[Decision]) -> OpenRecord | None:
    """Hand a record whose outcome is decided to the record step."""
    decided = finishing(record, ctx.now(), **decision)
    [updated] = finish_all(ctx, [decided])
    return updated


def finish_all(ctx: PipelineContext, decided: list[OpenRecord]) -> list[OpenRecord | None]:
    """Writes records made by `finishing` (in transactions of up to 100), then hands each one that
    was written to the record step: after the write, so a hand-over lost to a crash is repeated by
    the poller, never one made for a record that is not Finishing."""
    results = ctx.records.update_many(decided)
    for record, updated in zip(decided, results, strict=True):
        if updated is None:
            continue
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(record.key, record.source_name))
        logger.info(
            "%s (version %s) is %s; handed over for recording",
            record.source_name,
            record.source_etag,
            record.service_status if record.outcome is None else f"{record.outcome} ({record.reason_code})",
            extra=file_fields(updated, event=Event.FINISHING, outcome=record.outcome, reason_code=record.reason_code),
        )
    return results


def reject(ctx: PipelineContext, record: OpenRecord, rejection: Rejection) -> OpenRecord | None:
    updated = finish(ctx, record, outcome=Outcome.REJECTED, code=rejection.code, message=rejection.message)
    if updated is not None:
        # A rejection is the product working as designed: INFO, with the reason for the user.
        logger.info(
            "rejected %s before submission: %s (%s)",
            record.source_name,
            rejection.code,
            rejection.message,
            extra=file_fields(updated, event=Event.REJECTED, outcome=Outcome.REJECTED, reason_code=rejection.code),
        )
    return updated


def requeue(ctx: PipelineContext, record: OpenRecord) -> OpenRecord | None:
    """The hand-over to the record step was lost (or failed for long): hand it over again."""
    updated = ctx.records.update(replace(record, enqueued_at=ctx.now()))
    if updated is not None:
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(record.key, record.source_name))
        logger.info(
            "%s (version %s) handed over for recording again",
            record.source_name,
            record.source_etag,
            extra=file_fields(updated, event=Event.FINISHING),
        )
    return updated


def finalise(ctx: PipelineContext, record: OpenRecord, final: FinalRecord) -> None:
    """The record step's last act: the final record is written, then the open one removed."""
    ctx.records.put_final(final)
    ctx.records.delete_open(record.key)


# --- an operator's hand ---------------------------------------------------------------------


def reopen(ctx: PipelineContext, final: FinalRecord) -> OpenRecord | None:
    """Submit a recorded version again (its cause passed: a role, a glossary, a setting was fixed).
    The final record stays until the new outcome replaces it; the next attempt has staging names of
    its own. None when the version is open already."""
    now = ctx.now()
    record = OpenRecord.new(
        final.source_container,
        final.source_name,
        final.source_etag,
        modified=final.source_modified,
        size=0,
        state=State.WAITING,
        at=now,
        attempt=final.attempts,
        next_check_at=now,
        last_error=f"submitted again by an operator after {final.outcome} ({final.reason_code or 'no reason'})",
    )
    reopened = ctx.records.claim(record)
    if reopened is not None:
        logger.info(
            "%s (version %s) will be submitted again (it ended %s)",
            final.source_name,
            final.source_etag,
            final.outcome,
            extra=file_fields(reopened, event=Event.CLAIMED),
        )
    return reopened


def cancel_without_job(ctx: PipelineContext, record: OpenRecord, who: str) -> OpenRecord | None:
    """End a record that has no job (it waits) as Cancelled."""
    return finish(ctx, record, outcome=Outcome.CANCELLED, code="CancelledByOperator", message=f"cancelled by {who}")
